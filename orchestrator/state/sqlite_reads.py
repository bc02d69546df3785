"""The read side of SqliteStore (files, attempts, uploads, totals) and its closing."""

from __future__ import annotations

from types import TracebackType

from orchestrator.state.records import Attempt, FileRecord, Money, Totals, UploadRecord
from orchestrator.state.sqlite_base import FILES_QUERY, MICROS, SqliteBase, file_from_row


class SqliteReads(SqliteBase):
    """Queries that change no submission, plus the upload cache and the context manager."""

    def files(self, key: str) -> list[FileRecord]:
        """Return the key's recorded files, ordered by index."""
        with self._read() as db:
            rows = db.execute(FILES_QUERY + " AND key = ? ORDER BY idx", (self.campaign, key))
            return [file_from_row(row) for row in rows]

    def all_files(self) -> dict[str, list[FileRecord]]:
        """Return the recorded files of every key of this campaign, in one query."""
        found: dict[str, list[FileRecord]] = {}
        with self._read() as db:
            for row in db.execute(FILES_QUERY + " ORDER BY key, idx", (self.campaign,)):
                found.setdefault(row[0], []).append(file_from_row(row))
        return found

    def attempts(self, key: str) -> list[Attempt]:
        """Return every attempt of ``key``, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT key, attempt, task_id, reserved, charged, refunded, outcome, reason,"
                " sent_key FROM attempts WHERE campaign = ? AND key = ? ORDER BY attempt",
                (self.campaign, key),
            ).fetchall()
        return [
            Attempt(r[0], r[1], r[2], r[3] / MICROS, r[4] / MICROS, r[5] / MICROS, r[6], r[7], r[8])
            for r in rows
        ]

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

    def money(self) -> dict[str, Money]:
        """Charged, refunded and reserved money of every key of this campaign, in one query."""
        with self._read() as db:
            rows = db.execute(
                "SELECT key, sum(charged), sum(refunded), sum(reserved) FROM attempts"
                " WHERE campaign = ? GROUP BY key",
                (self.campaign,),
            ).fetchall()
        return {r[0]: Money(r[1] / MICROS, r[2] / MICROS, r[3] / MICROS) for r in rows}

    def totals(self) -> Totals:
        """Return this campaign's money: spent (charged - refunded), reserved, refunded."""
        with self._read() as db:
            row = db.execute(
                "SELECT reserved, charged, refunded FROM campaigns WHERE campaign = ?",
                (self.campaign,),
            ).fetchone()
        reserved, charged, refunded = row or (0, 0, 0)
        return Totals((charged - refunded) / MICROS, reserved / MICROS, refunded / MICROS)

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
