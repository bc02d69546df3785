"""What differs between SQLite and PostgreSQL for the one SQL store, and the connection face.

Everything else is the same SQL text: ``?`` placeholders (the link turns them into the
driver's), ``ON CONFLICT`` upserts, ``RETURNING`` and row values, which both databases read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Dialect:
    """The few words of SQL that differ between the two databases."""

    name: str
    now: str  # seconds since the epoch on the clock every lease expires by
    lock_row: str  # after a SELECT whose row the transaction then changes
    skip_locked: str  # after the pick of a free job slot: runners never wait on each other
    greatest: str  # the two-argument maximum
    wake_poll: float  # seconds between safety checks while waiting for a release
    connections: int  # a run's connections: one writer at a time on SQLite; a round trip
    # each on PostgreSQL, where runners far from the database overlap them
    snapshot: str  # first statement of a transaction that must read one snapshot ("": none)
    lock_campaigns: str  # keeps campaigns from appearing during an import ("": none needed)
    lock_owner: str = ""  # one transaction at a time of the runner named by its argument
    modifying_with: bool = False  # UPDATE/INSERT inside WITH: a first intent in one statement

    def lock_of(self, alias: str) -> str:
        """The row lock of a SELECT joining other tables: only ``alias``'s rows are locked."""
        return f"{self.lock_row} OF {alias}" if self.lock_row else ""

    def prepare(self, sql: str) -> str:
        """``sql`` with this driver's placeholders."""
        return sql if self.name == "sqlite" else sql.replace("?", "%s")


# SQLite's clock is the store's (a function the connection registers, so tests inject one);
# one process at a time writes, so no row locks are needed.
# BEGIN IMMEDIATE gives SQLite one snapshot and one writer at a time.
SQLITE = Dialect("sqlite", "mjv_now()", "", "", "max", 0.05, 1, "", "")
# PostgreSQL's is the DATABASE's clock: runners on many machines share one.
POSTGRES = Dialect(
    "postgres",
    "extract(epoch FROM clock_timestamp())::float8",
    " FOR UPDATE",
    " FOR UPDATE SKIP LOCKED",
    "greatest",
    2.0,
    4,
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    "LOCK TABLE campaigns IN SHARE ROW EXCLUSIVE MODE",
    lock_owner="SELECT pg_advisory_xact_lock(hashtext(?))",
    modifying_with=True,
)


class Link(Protocol):
    """One connection to a state database, as the SQL store uses it."""

    dialect: Dialect
    shown: str  # where the state is, for messages: "state file X" or "state URL"
    topic: str  # names this database among others in this process (for wake-ups)

    @property
    def path(self) -> Path | None:
        """The state file, None for a database server."""

    def transaction(self) -> AbstractContextManager[None]:
        """One transaction (reentrant): committed on success, rolled back otherwise."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run one statement (``?`` placeholders); its rows, or [] when it returns none."""

    def write(self, sql: str, args: Sequence[Any] = ()) -> None:
        """Run one statement whose result is not read (PostgreSQL may send it with the next)."""

    def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows``."""

    def read_all(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Run several queries at once, on one snapshot (one round trip on PostgreSQL, plus
        the end of the read's own transaction when none is open); each one's rows."""

    def check(self) -> None:
        """StateError when the database went away under the store (a replaced file)."""

    def notify(self, channel: str) -> None:
        """Tell every process waiting on ``channel`` (after the transaction commits)."""

    def listen(self) -> None:
        """Start hearing releases made by other processes (when the database can tell)."""

    def reopen(self) -> Link:
        """Another connection to the same state."""

    def close(self) -> None:
        """Close the connection."""
