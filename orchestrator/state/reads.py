"""The read side both stores share: the same SQL, written once, on either database.

Queries use ``?`` placeholders; ``_sql`` turns them into the driver's own. Money is stored in
integer millionths, summed as integers on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from orchestrator.state.records import (
    Attempt,
    FileRecord,
    FileVersion,
    Money,
    Submission,
    Totals,
    UploadRecord,
)
from orchestrator.state.schema import damaged_clip_urls

MICROS = 1_000_000
SUBMISSION_QUERY = (
    "SELECT key, job, kind, step, parent, status, attempt, task_id, failure, reason, clip_urls,"
    " image_url, lease_owner, lease_until, updated_at, request FROM submissions"
    " WHERE campaign = ?"
)
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


def submission_from_row(row: Sequence[Any]) -> Submission:
    """Build a Submission from a row of SUBMISSION_QUERY; damaged clip URLs: a StateError."""
    key, job, kind, step, parent, status, attempt, task_id, failure, reason = row[:10]
    return Submission(
        key,
        job,
        kind,
        step,
        parent,
        status,
        attempt,
        task_id,
        failure,
        reason,
        clip_urls=_clip_urls(row[10], job, key),
        image_url=row[11],
        lease_owner=row[12],
        lease_until=row[13],
        updated_at=row[14],
        request=row[15],
    )


def _clip_urls(text: str, job: str, key: str) -> tuple[str, ...]:
    """The stored JSON list of clip URLs; damage is a StateError naming the job."""
    try:
        urls = json.loads(text)
    except (TypeError, ValueError):
        urls = None
    if not isinstance(urls, list):
        raise damaged_clip_urls(None, job, key)
    return tuple(str(url) for url in urls)


class SharedReads:
    """The reads of ``Store`` (and closing) for any store with ``_read``, ``_write``, ``_sql``."""

    campaign: str
    _db: Any
    _lock: Any

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

    def get(self, key: str) -> Submission | None:
        """Return the submission with ``key``, or None when it was never declared."""
        rows = self._rows(SUBMISSION_QUERY + " AND key = ?", self.campaign, key)
        return submission_from_row(rows[0]) if rows else None

    def submissions(self) -> list[Submission]:
        """Return every submission of this campaign (orphans included), ordered by key."""
        rows = self._rows(SUBMISSION_QUERY + " ORDER BY key", self.campaign)
        return [submission_from_row(row) for row in rows]

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

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._db.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()
