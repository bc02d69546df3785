"""The transaction plumbing of SqliteStore: errors, BEGIN IMMEDIATE, attempt money bookkeeping."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator.errors import StateError
from orchestrator.state.records import FileRecord
from orchestrator.state.schema import is_access_error, not_writable

MICROS = 1_000_000  # money is stored in integer millionths so sums stay exact
ANY_STATUS = ("pending", "submitting", "submitted", "running", "succeeded", "downloaded", "failed")

_ADD_TOTALS = (
    "INSERT INTO campaigns (campaign, reserved, charged, refunded) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (campaign) DO UPDATE SET reserved = reserved + excluded.reserved,"
    " charged = charged + excluded.charged, refunded = refunded + excluded.refunded"
)
_MONEY = ("reserved", "charged", "refunded")


def to_micros(amount: float) -> int:
    """Convert an amount of money to stored micro-units."""
    return round(amount * MICROS)


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``, None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class SqliteBase:
    """One connection to the state file for one campaign, shared safely across threads."""

    def __init__(
        self, db: sqlite3.Connection, path: Path, campaign: str, clock: Callable[[], float]
    ) -> None:
        self._db = db
        self._lock = threading.RLock()
        self.path = path
        self.campaign = campaign
        self._clock = clock
        self._where = path.absolute()  # a later chdir must not look like a removed file
        self._identity = _identity(self._where)

    def check_file(self) -> None:
        """StateError when the state file was removed or replaced since it was opened.

        Writes to an unlinked file would be lost silently: the run must stop instead.
        """
        if self._identity is not None and _identity(self._where) != self._identity:
            raise StateError(
                f"state file {self.path} was removed or replaced while mjv was using it; "
                "stopping (nothing more is recorded or submitted). Put the file back or run again."
            )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn every SQLite failure into a StateError naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            if is_access_error(exc):
                raise not_writable(self.path, str(exc)) from exc
            raise StateError(f"state file {self.path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN IMMEDIATE transaction, committed on success and rolled back otherwise."""
        with self._lock, self._errors():
            self.check_file()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            finally:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read on the shared connection."""
        with self._lock, self._errors():
            yield self._db

    def _expect(self, key: str, allowed: Sequence[str], action: str) -> tuple[str, int, str | None]:
        """Return (status, attempt, lease_owner) of ``key``; StateError unless status is allowed."""
        row = self._db.execute(
            "SELECT status, attempt, lease_owner, job FROM submissions"
            " WHERE campaign = ? AND key = ?",
            (self.campaign, key),
        ).fetchone()
        if row is None:
            raise StateError(f"state file {self.path}: {key} was never declared in {self.campaign}")
        if row[0] not in allowed:
            raise StateError(f"cannot {action} {row[3]} ({key}): it is {row[0]}")
        return str(row[0]), int(row[1]), row[2]

    def _update(self, key: str, **fields: Any) -> None:
        """Set columns of the submission ``key`` and stamp its update time."""
        names = ", ".join(f"{name} = ?" for name in fields)
        self._db.execute(
            f"UPDATE submissions SET {names}, updated_at = ? WHERE campaign = ? AND key = ?",
            (*fields.values(), self._clock(), self.campaign, key),
        )

    def _set_attempt(self, key: str, attempt: int, **fields: Any) -> None:
        """Set columns of one attempt; money columns also move the campaign's running totals."""
        where = (self.campaign, key, attempt)
        old = self._db.execute(
            "SELECT reserved, charged, refunded FROM attempts"
            " WHERE campaign = ? AND key = ? AND attempt = ?",
            where,
        ).fetchone()
        if old is None:
            return
        deltas = [fields.get(name, was) - was for name, was in zip(_MONEY, old, strict=True)]
        names = ", ".join(f"{name} = ?" for name in fields)
        self._db.execute(
            f"UPDATE attempts SET {names} WHERE campaign = ? AND key = ? AND attempt = ?",
            (*fields.values(), *where),
        )
        if any(deltas):
            self._db.execute(_ADD_TOTALS, (self.campaign, *deltas))

    def _start_attempt(self, key: str, attempt: int) -> None:
        """Insert an empty attempt row (no money yet); an existing one is kept."""
        self._db.execute(
            "INSERT OR IGNORE INTO attempts (campaign, key, attempt, started_at)"
            " VALUES (?, ?, ?, ?)",
            (self.campaign, key, attempt, self._clock()),
        )

    def _abandon(self, key: str, status: str, attempt: int, why: str) -> None:
        """Close an attempt that has no outcome; an in-doubt one keeps its reservation."""
        row = self._db.execute(
            "SELECT outcome FROM attempts WHERE campaign = ? AND key = ? AND attempt = ?",
            (self.campaign, key, attempt),
        ).fetchone()
        if row is None or row[0] is not None:
            return
        if status == "submitting":  # it may have reached the provider: possibly charged
            self._set_attempt(key, attempt, outcome="in_doubt", reason=why)
        else:
            self._set_attempt(key, attempt, outcome="abandoned", reason=why, reserved=0)

    def _replace_files(self, key: str, files: Sequence[FileRecord]) -> None:
        """Delete the key's files and insert ``files`` instead; replaced ones go to versions."""
        self._keep_versions(key, files)
        self._db.execute("DELETE FROM files WHERE campaign = ? AND key = ?", (self.campaign, key))
        self._db.executemany(
            "INSERT INTO files (campaign, key, idx, name, url, sha256, size)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(self.campaign, key, f.index, f.name, f.url, f.sha256, f.size) for f in files],
        )

    def _keep_versions(self, key: str, files: Sequence[FileRecord]) -> None:
        """Copy the key's file rows that ``files`` does not repeat into file_versions."""
        kept = [(f.index, f.sha256) for f in files]
        old = self._db.execute(
            "SELECT f.idx, f.name, f.url, f.sha256, f.size, s.attempt FROM files f"
            " JOIN submissions s ON s.campaign = f.campaign AND s.key = f.key"
            " WHERE f.campaign = ? AND f.key = ?",
            (self.campaign, key),
        ).fetchall()
        replaced = [
            (self.campaign, key, row[5], *row[:5], self._clock())
            for row in old
            if (row[0], row[3]) not in kept
        ]
        if replaced:
            self._db.executemany(
                "INSERT OR REPLACE INTO file_versions (campaign, key, attempt, idx, name, url,"
                " sha256, size, replaced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                replaced,
            )
