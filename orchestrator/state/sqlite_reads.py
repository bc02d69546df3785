"""The read side of SqliteStore (files, attempts, uploads, totals) and its closing."""

from __future__ import annotations

from orchestrator.state.reads import SharedReads
from orchestrator.state.sqlite_base import SqliteBase


class SqliteReads(SqliteBase, SharedReads):
    """Queries that change no submission, plus the upload cache and the context manager."""

    def record_upload(self, sha256: str, url: str) -> None:
        """Remember that the image with this content hash is at ``url`` (uploaded now)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO uploads (sha256, url, recorded_at) VALUES (?, ?, ?)"
                " ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,"
                " recorded_at = excluded.recorded_at",
                (sha256, url, self._clock()),
            )
