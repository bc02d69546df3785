"""SqliteStore: the Store on one SQLite file (WAL), each change its own committed transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

from orchestrator.state.leases import check_fence
from orchestrator.state.lifecycle import Action, sources
from orchestrator.state.records import SubmissionSpec
from orchestrator.state.schema import connect
from orchestrator.state.sqlite_leases import SqliteLeases, ensure_limit_tables
from orchestrator.state.sqlite_reads import SqliteReads
from orchestrator.state.sqlite_transfer import SqliteTransfer
from orchestrator.state.writes import SharedWrites

_DECLARE = (
    "INSERT INTO submissions (campaign, key, job, kind, step, parent, status, updated_at, request)"
    " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
    " ON CONFLICT (campaign, key) DO UPDATE SET job = excluded.job,"
    " request = coalesce(excluded.request, request)"
    " WHERE job != excluded.job OR request IS NOT excluded.request"
)


def open_store(path: Path, campaign: str, *, clock: Callable[[], float] = time.time) -> SqliteStore:
    """Open (creating or migrating) the state file at ``path`` for ``campaign``."""
    path = Path(path)  # tolerate a str from callers that skip the CLI's conversion
    db = connect(path)
    ensure_limit_tables(db, path)
    return SqliteStore(db, path, campaign, clock)


class SqliteStore(SqliteLeases, SqliteReads, SqliteTransfer, SharedWrites):
    """The SQLite implementation of ``Store``; see ``Store`` for each method's semantics.

    Writes given an ``owner`` are fenced: ``LeaseLostError`` unless it holds the key's lease.
    """

    def __enter__(self) -> Self:
        """Return the store itself."""
        return self

    def declare(self, specs: Sequence[SubmissionSpec]) -> None:
        """Insert unknown keys as pending and rename known ones, in one transaction."""
        now = self._clock()
        rows = [
            (self.campaign, s.key, s.job, s.kind, s.step, s.parent, now, s.request) for s in specs
        ]
        with self._write() as db:
            db.executemany(_DECLARE, rows)

    def _begin(self, key: str, action: Action, owner: str | None) -> tuple[str, int]:
        """Check ``action`` may start (status and fence); return (status, attempt).

        Call inside ``_write``: the check and the change share one transaction.
        """
        allowed = tuple(sources(action))
        status, attempt, holder = self._expect(key, allowed, str(action))
        check_fence(key, holder, owner)
        return status, attempt
