"""The read side of PostgresStore (submissions, files, attempts, uploads, totals) and closing."""

from __future__ import annotations

from orchestrator.state.postgres_base import PostgresBase
from orchestrator.state.postgres_schema import NOW
from orchestrator.state.reads import SharedReads


class PostgresReads(PostgresBase, SharedReads):
    """Queries that change no submission, plus the upload cache and the context manager."""

    def record_upload(self, sha256: str, url: str) -> None:
        """Remember that the image with this content hash is at ``url`` (uploaded now)."""
        with self._write() as db:
            db.execute(
                f"INSERT INTO uploads (sha256, url, recorded_at) VALUES (%s, %s, {NOW})"
                " ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,"
                " recorded_at = excluded.recorded_at",
                (sha256, url),
            )

    def _sql(self, text: str) -> str:
        """psycopg's placeholders."""
        return text.replace("?", "%s")

    def check_file(self) -> None:
        """A database cannot vanish like a file: nothing to check (a lost server errors)."""
