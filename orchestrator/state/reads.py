"""The read side both stores share: the same SQL, written once, on either database.

Queries use ``?`` placeholders; ``_sql`` turns them into the driver's own. Money is stored in
integer millionths, summed as integers on both databases.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from orchestrator.state.records import (
    Attempt,
    FileRecord,
    FileVersion,
    Money,
    Totals,
    UploadRecord,
)

MICROS = 1_000_000
_FILES = "SELECT key, idx, name, url, sha256, size FROM files WHERE campaign = ?"
_ATTEMPTS = (
    "SELECT key, attempt, task_id, reserved, charged, refunded, outcome, reason, sent_key"
    " FROM attempts WHERE campaign = ? AND key = ? ORDER BY attempt"
)
_MONEY = (
    "SELECT key, CAST(sum(charged) AS BIGINT), CAST(sum(refunded) AS BIGINT),"
    " CAST(sum(reserved) AS BIGINT) FROM attempts WHERE campaign = ? GROUP BY key"
)
_VERSIONS = (
    "SELECT attempt, key, idx, name, url, sha256, size FROM file_versions"
    " WHERE campaign = ? ORDER BY key, attempt, idx"
)
_TOTALS = "SELECT reserved, charged, refunded FROM campaigns WHERE campaign = ?"


class SharedReads:
    """Reads of files, attempts, money and totals, for any store with ``_read`` and ``_sql``."""

    campaign: str

    def _read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # the store's own base class provides it

    def _sql(self, text: str) -> str:
        """``text`` with the driver's placeholders (SQLite takes ``?`` as it is)."""
        return text

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # the store's own base class provides it

    def _rows(self, text: str, *args: Any) -> list[Any]:
        with self._read() as db:
            return list(db.execute(self._sql(text), args).fetchall())

    def files(self, key: str) -> list[FileRecord]:
        """Return the key's recorded files, ordered by index."""
        query = _FILES + " AND key = ? ORDER BY idx"
        return [FileRecord(*row) for row in self._rows(query, self.campaign, key)]

    def all_files(self) -> dict[str, list[FileRecord]]:
        """Return the recorded files of every key of this campaign, in one query."""
        found: dict[str, list[FileRecord]] = {}
        for row in self._rows(_FILES + " ORDER BY key, idx", self.campaign):
            found.setdefault(row[0], []).append(FileRecord(*row))
        return found

    def attempts(self, key: str) -> list[Attempt]:
        """Return every attempt of ``key``, oldest first."""
        return [
            Attempt(r[0], r[1], r[2], r[3] / MICROS, r[4] / MICROS, r[5] / MICROS, r[6], r[7], r[8])
            for r in self._rows(_ATTEMPTS, self.campaign, key)
        ]

    def upload_url(self, sha256: str) -> str | None:
        """Return the URL an image with this content hash was uploaded to, in any campaign."""
        record = self.upload(sha256)
        return None if record is None else record.url

    def upload(self, sha256: str) -> UploadRecord | None:
        """Return where and when an image with this content hash was last uploaded."""
        rows = self._rows("SELECT url, recorded_at FROM uploads WHERE sha256 = ?", sha256)
        return UploadRecord(sha256, str(rows[0][0]), float(rows[0][1])) if rows else None

    def forget_upload(self, sha256: str) -> None:
        """The uploaded URL is dead (expired or unreachable): the next use uploads again."""
        with self._write() as db:
            db.execute(self._sql("DELETE FROM uploads WHERE sha256 = ?"), (sha256,))

    def file_versions(self) -> list[FileVersion]:
        """Return the files submissions of this campaign replaced, by key, attempt and index."""
        return [
            FileVersion(row[0], FileRecord(*row[1:]))
            for row in self._rows(_VERSIONS, self.campaign)
        ]

    def money(self) -> dict[str, Money]:
        """Charged, refunded and reserved money of every key of this campaign, in one query."""
        return {
            r[0]: Money(r[1] / MICROS, r[2] / MICROS, r[3] / MICROS)
            for r in self._rows(_MONEY, self.campaign)
        }

    def totals(self) -> Totals:
        """Return this campaign's money: spent (charged - refunded), reserved, refunded."""
        rows = list(self._rows(_TOTALS, self.campaign))
        reserved, charged, refunded = rows[0] if rows else (0, 0, 0)
        return Totals((charged - refunded) / MICROS, reserved / MICROS, refunded / MICROS)
