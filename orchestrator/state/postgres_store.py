"""PostgresStore: the Store on a PostgreSQL schema, shared by runners on many machines.

Each change is one transaction that locks the submission's row first, so a fenced write and
a competing claim can never interleave; leases expire by the database's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from orchestrator.state.postgres_leases import PostgresLeases
from orchestrator.state.postgres_reads import PostgresReads
from orchestrator.state.postgres_schema import NOW, connect
from orchestrator.state.postgres_transfer import PostgresTransfer
from orchestrator.state.records import SubmissionSpec
from orchestrator.state.url import PostgresUrl, parse_postgres_url
from orchestrator.state.writes import SharedWrites

_DECLARE = (
    "INSERT INTO submissions AS s"
    " (campaign, key, job, kind, step, parent, status, updated_at, request)"
    f" VALUES (%s, %s, %s, %s, %s, %s, 'pending', {NOW}, %s)"
    " ON CONFLICT (campaign, key) DO UPDATE SET job = excluded.job,"
    " request = coalesce(excluded.request, s.request)"
    " WHERE s.job <> excluded.job OR s.request IS DISTINCT FROM excluded.request"
)


def open_postgres(url: PostgresUrl | str, campaign: str) -> PostgresStore:
    """Connect to the state at ``url`` (creating or migrating its schema) for ``campaign``."""
    found = url if isinstance(url, PostgresUrl) else parse_postgres_url(url)
    return PostgresStore(connect(found), found, campaign)


class PostgresStore(PostgresLeases, PostgresReads, PostgresTransfer, SharedWrites):
    """The PostgreSQL implementation of ``Store``; see ``Store`` for each method's semantics."""

    def __enter__(self) -> Self:
        """Return the store itself."""
        return self

    def declare(self, specs: Sequence[SubmissionSpec]) -> None:
        """Insert unknown keys as pending and rename known ones, in one transaction."""
        rows = [(self.campaign, s.key, s.job, s.kind, s.step, s.parent, s.request) for s in specs]
        with self._write() as db, db.cursor() as cursor:
            cursor.executemany(_DECLARE, rows)
