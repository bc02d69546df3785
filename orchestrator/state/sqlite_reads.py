"""The read side of SqliteStore (files, attempts, uploads, totals) and its closing."""

from __future__ import annotations

from types import TracebackType

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

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteReads:
        """Return the store itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()
