"""The transaction plumbing of PostgresStore: one connection, row locks, attempt money."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from orchestrator.errors import StateError
from orchestrator.state.leases import LeaseBook, check_fence
from orchestrator.state.lifecycle import Action, Status, sources
from orchestrator.state.postgres_schema import NOW, translated
from orchestrator.state.url import PostgresUrl

if TYPE_CHECKING:
    import psycopg

_ADD_TOTALS = (
    "INSERT INTO campaigns AS c (campaign, reserved, charged, refunded) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (campaign) DO UPDATE SET reserved = c.reserved + excluded.reserved,"
    " charged = c.charged + excluded.charged, refunded = c.refunded + excluded.refunded"
)
_MONEY = ("reserved", "charged", "refunded")


class PostgresBase:
    """One connection to the state database for one campaign, shared safely across threads."""

    def __init__(self, db: psycopg.Connection[Any], url: PostgresUrl, campaign: str) -> None:
        self._db = db
        self._lock = threading.RLock()
        self.url = url
        self.campaign = campaign
        self._book = LeaseBook()

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction, committed on success and rolled back otherwise."""
        with self._lock, translated(self.url), self._db.transaction():
            yield self._db

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        """A read on the shared connection (autocommit: its own snapshot)."""
        with self._lock, translated(self.url):
            yield self._db

    def _begin(self, key: str, action: Action, owner: str | None) -> tuple[Status, int]:
        """Lock ``key``'s row and check ``action`` may start (status and fence).

        The row stays locked until the transaction ends, so no claim can slip in between the
        fence check and the write. Returns (status, attempt).
        """
        row = self._db.execute(
            "SELECT status, attempt, lease_owner, job FROM submissions"
            " WHERE campaign = %s AND key = %s FOR UPDATE",
            (self.campaign, key),
        ).fetchone()
        if row is None:
            raise StateError(f"state {self.url.shown}: {key} was never declared in {self.campaign}")
        if row[0] not in sources(action):
            raise StateError(f"cannot {action} {row[3]} ({key}): it is {row[0]}")
        check_fence(key, row[2], owner)
        return Status(row[0]), int(row[1])

    def _update(self, key: str, **fields: Any) -> None:
        """Set columns of the submission ``key`` and stamp its update time."""
        names = ", ".join(f"{name} = %s" for name in fields)
        self._db.execute(
            f"UPDATE submissions SET {names}, updated_at = {NOW} WHERE campaign = %s AND key = %s",
            (*(_plain(v) for v in fields.values()), self.campaign, key),
        )

    def _set_attempt(self, key: str, attempt: int, **fields: Any) -> None:
        """Set columns of one attempt; money columns also move the campaign's running totals."""
        where = (self.campaign, key, attempt)
        old = self._db.execute(
            "SELECT reserved, charged, refunded FROM attempts"
            " WHERE campaign = %s AND key = %s AND attempt = %s",
            where,
        ).fetchone()
        if old is None:
            return
        deltas = [fields.get(name, was) - was for name, was in zip(_MONEY, old, strict=True)]
        names = ", ".join(f"{name} = %s" for name in fields)
        self._db.execute(
            f"UPDATE attempts SET {names} WHERE campaign = %s AND key = %s AND attempt = %s",
            (*fields.values(), *where),
        )
        if any(deltas):
            self._db.execute(_ADD_TOTALS, (self.campaign, *deltas))

    def _start_attempt(self, key: str, attempt: int) -> None:
        """Insert an empty attempt row (no money yet); an existing one is kept."""
        self._db.execute(
            "INSERT INTO attempts (campaign, key, attempt, started_at)"
            f" VALUES (%s, %s, %s, {NOW}) ON CONFLICT DO NOTHING",
            (self.campaign, key, attempt),
        )

    def _abandon(self, key: str, status: Status, attempt: int, why: str) -> None:
        """Close an attempt that has no outcome; an in-doubt one keeps its reservation."""
        row = self._db.execute(
            "SELECT outcome FROM attempts WHERE campaign = %s AND key = %s AND attempt = %s",
            (self.campaign, key, attempt),
        ).fetchone()
        if row is None or row[0] is not None:
            return
        if status == Status.SUBMITTING:  # it may have reached the provider: possibly charged
            self._set_attempt(key, attempt, outcome="in_doubt", reason=why)
        else:
            self._set_attempt(key, attempt, outcome="abandoned", reason=why, reserved=0)

    def _replace_files(self, key: str, files: Sequence[Any]) -> None:
        """Delete the key's files and insert ``files`` instead; replaced ones go to versions."""
        self._keep_versions(key, files)
        self._db.execute("DELETE FROM files WHERE campaign = %s AND key = %s", (self.campaign, key))
        with self._db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO files (campaign, key, idx, name, url, sha256, size)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(self.campaign, key, f.index, f.name, f.url, f.sha256, f.size) for f in files],
            )

    def _keep_versions(self, key: str, files: Sequence[Any]) -> None:
        """Copy the key's file rows that ``files`` does not repeat into file_versions."""
        kept = [(f.index, f.sha256) for f in files]
        old = self._db.execute(
            "SELECT f.idx, f.name, f.url, f.sha256, f.size, s.attempt FROM files f"
            " JOIN submissions s ON s.campaign = f.campaign AND s.key = f.key"
            " WHERE f.campaign = %s AND f.key = %s",
            (self.campaign, key),
        ).fetchall()
        replaced = [(self.campaign, key, r[5], *r[:5]) for r in old if (r[0], r[3]) not in kept]
        if not replaced:
            return
        with self._db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO file_versions (campaign, key, attempt, idx, name, url, sha256, size,"
                f" replaced_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {NOW})"
                " ON CONFLICT (campaign, key, attempt, idx) DO UPDATE SET name = excluded.name,"
                " url = excluded.url, sha256 = excluded.sha256, size = excluded.size,"
                " replaced_at = excluded.replaced_at",
                replaced,
            )


def _plain(value: Any) -> Any:
    """A StrEnum member as its plain string (psycopg adapts by exact type)."""
    return str(value) if isinstance(value, Status) else value
