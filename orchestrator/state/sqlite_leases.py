"""Leases on the SQLite file: submission claims, account job slots and budget holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from orchestrator.errors import StateError
from orchestrator.state.leases import LeaseBook, holder_is_dead
from orchestrator.state.sqlite_base import SqliteBase, to_micros

# Created on open rather than by a numbered migration: they only add tables, and older mjv
# versions ignore them.
LIMIT_TABLES = (
    """CREATE TABLE IF NOT EXISTS slots (
        account TEXT NOT NULL,
        slot INTEGER NOT NULL,
        owner TEXT,
        until REAL,
        PRIMARY KEY (account, slot))""",
    """CREATE TABLE IF NOT EXISTS holds (
        campaign TEXT NOT NULL,
        owner TEXT NOT NULL,
        amount INTEGER NOT NULL,
        until REAL NOT NULL,
        PRIMARY KEY (campaign, owner))""",
)
_HOLD = (
    "INSERT INTO holds (campaign, owner, amount, until) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (campaign, owner) DO UPDATE SET until = excluded.until,"
    " amount = CASE WHEN until > ? THEN amount + excluded.amount ELSE excluded.amount END"
)


def ensure_limit_tables(db: sqlite3.Connection, path: Path) -> None:
    """Add the slot and hold tables to a state file that lacks them."""
    try:
        found = db.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('slots', 'holds')")
        if found.fetchone()[0] == len(LIMIT_TABLES):
            return
        db.execute("BEGIN IMMEDIATE")
        for statement in LIMIT_TABLES:
            db.execute(statement)
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StateError(f"state file {path} cannot be used: {exc}") from exc
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")


class SqliteLeases(SqliteBase):
    """Who may work on what: leases on keys, job slots of an account, money held for a send."""

    def __init__(
        self, db: sqlite3.Connection, path: Path, campaign: str, clock: Callable[[], float]
    ) -> None:
        super().__init__(db, path, campaign, clock)
        self._book = LeaseBook()

    def claim(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease on ``key`` unless another live owner holds it; True when taken."""
        with self._write() as db:
            row = db.execute(
                "SELECT lease_owner, lease_until FROM submissions WHERE campaign = ? AND key = ?",
                (self.campaign, key),
            ).fetchone()
            if row is None:
                raise StateError(f"state file {self.path}: {key} was never declared")
            now = self._clock()
            if not _free(row[0], row[1], owner, now):
                return False
            db.execute(
                "UPDATE submissions SET lease_owner = ?, lease_until = ?"
                " WHERE campaign = ? AND key = ?",
                (owner, now + lease_seconds, self.campaign, key),
            )
        self._book.took(owner, key)
        return True

    def renew_leases(self, owner: str, lease_seconds: float) -> frozenset[str]:
        """Push ``owner``'s leases, slots and holds on; return the keys it lost meanwhile."""
        until = self._clock() + lease_seconds
        with self._write() as db:
            rows = db.execute(
                "UPDATE submissions SET lease_until = ? WHERE lease_owner = ? AND campaign = ?"
                " RETURNING key",
                (until, owner, self.campaign),
            ).fetchall()
            db.execute("UPDATE slots SET until = ? WHERE owner = ?", (until, owner))
            db.execute(
                "UPDATE holds SET until = ? WHERE owner = ? AND campaign = ?",
                (until, owner, self.campaign),
            )
        return self._book.lost(owner, (row[0] for row in rows))

    def acquire_slot(self, account: str, owner: str, limit: int, lease_seconds: float) -> bool:
        """Take one of ``account``'s ``limit`` job slots for ``owner``; False when all are busy."""
        with self._write() as db:
            taken = {
                row[0]: row[1:]
                for row in db.execute(
                    "SELECT slot, owner, until FROM slots WHERE account = ? AND slot < ?",
                    (account, limit),
                )
            }
            now = self._clock()
            for slot in range(limit):
                holder, until = taken.get(slot, (None, None))
                if holder is None or _free(holder, until, None, now):
                    db.execute(
                        "INSERT OR REPLACE INTO slots (account, slot, owner, until)"
                        " VALUES (?, ?, ?, ?)",
                        (account, slot, owner, now + lease_seconds),
                    )
                    return True
        return False

    def slot_holders(self, account: str) -> int:
        """How many runners hold live job slots of ``account`` now (they share its rate)."""
        with self._read() as db:
            row = db.execute(
                "SELECT count(DISTINCT owner) FROM slots"
                " WHERE account = ? AND owner IS NOT NULL AND until > ?",
                (account, self._clock()),
            ).fetchone()
        return int(row[0])

    def release_slot(self, account: str, owner: str) -> None:
        """Give back one of the job slots ``owner`` holds on ``account`` (none: no change)."""
        with self._write() as db:
            db.execute(
                "UPDATE slots SET owner = NULL, until = NULL WHERE account = ? AND slot ="
                " (SELECT max(slot) FROM slots WHERE account = ? AND owner = ?)",
                (account, account, owner),
            )

    def reserve(self, owner: str, amount: float, cap: float, lease_seconds: float) -> bool:
        """Hold ``amount`` for ``owner`` unless spent + reserved + held would pass ``cap``."""
        micros, now = to_micros(amount), self._clock()
        with self._write() as db:
            committed = db.execute(
                "SELECT coalesce(sum(reserved + charged - refunded), 0) FROM campaigns"
                " WHERE campaign = ?",
                (self.campaign,),
            ).fetchone()[0]
            held = db.execute(
                "SELECT coalesce(sum(amount), 0) FROM holds WHERE campaign = ? AND until > ?",
                (self.campaign, now),
            ).fetchone()[0]
            if committed + held + micros > to_micros(cap):
                return False
            db.execute(_HOLD, (self.campaign, owner, micros, now + lease_seconds, now))
        return True

    def unreserve(self, owner: str, amount: float) -> None:
        """Give back ``amount`` of what ``owner`` holds (never below zero)."""
        with self._write() as db:
            db.execute(
                "UPDATE holds SET amount = max(0, amount - ?) WHERE campaign = ? AND owner = ?",
                (to_micros(amount), self.campaign, owner),
            )


def _free(holder: str | None, until: float | None, owner: str | None, now: float) -> bool:
    """A lease is free when unset, ``owner``'s, expired, or held by a dead local process."""
    if holder is None or holder == owner:
        return True
    return (until or 0) <= now or holder_is_dead(holder)
