"""The read side of SqliteStore (files, attempts, uploads, totals) and its closing."""

from __future__ import annotations

from types import TracebackType

from orchestrator.state.reads import SharedReads
from orchestrator.state.records import UploadRecord
from orchestrator.state.sqlite_base import SqliteBase


class SqliteReads(SqliteBase, SharedReads):
    """Queries that change no submission, plus the upload cache and the context manager."""

    def upload_url(self, sha256: str) -> str | None:
        """Return the URL an image with this content hash was uploaded to, in any campaign."""
        record = self.upload(sha256)
        return None if record is None else record.url

    def upload(self, sha256: str) -> UploadRecord | None:
        """Return where and when an image with this content hash was last uploaded."""
        with self._read() as db:
            row = db.execute(
                "SELECT url, recorded_at FROM uploads WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return None if row is None else UploadRecord(sha256, str(row[0]), float(row[1]))

    def record_upload(self, sha256: str, url: str) -> None:
        """Remember that the image with this content hash is at ``url`` (uploaded now)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO uploads (sha256, url, recorded_at) VALUES (?, ?, ?)"
                " ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,"
                " recorded_at = excluded.recorded_at",
                (sha256, url, self._clock()),
            )

    def forget_upload(self, sha256: str) -> None:
        """The uploaded URL is dead (expired or unreachable): the next use uploads again."""
        with self._write() as db:
            db.execute("DELETE FROM uploads WHERE sha256 = ?", (sha256,))

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
