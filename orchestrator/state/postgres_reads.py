"""The read side of PostgresStore (submissions, files, attempts, uploads, totals) and closing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from orchestrator.state.postgres_base import PostgresBase
from orchestrator.state.postgres_schema import NOW
from orchestrator.state.reads import SharedReads
from orchestrator.state.records import (
    Submission,
)

SUBMISSION_QUERY = (
    "SELECT key, job, kind, step, parent, status, attempt, task_id, failure, reason, clip_urls,"
    " image_url, lease_owner, lease_until, updated_at, request FROM submissions"
    " WHERE campaign = %s"
)


def submission_from_row(row: Sequence[Any]) -> Submission:
    """Build a Submission from a row of SUBMISSION_QUERY."""
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
        clip_urls=tuple(json.loads(row[10])),
        image_url=row[11],
        lease_owner=row[12],
        lease_until=row[13],
        updated_at=row[14],
        request=row[15],
    )


class PostgresReads(PostgresBase, SharedReads):
    """Queries that change no submission, plus the upload cache and the context manager."""

    def get(self, key: str) -> Submission | None:
        """Return the submission with ``key``, or None when it was never declared."""
        with self._read() as db:
            row = db.execute(SUBMISSION_QUERY + " AND key = %s", (self.campaign, key)).fetchone()
        return None if row is None else submission_from_row(row)

    def submissions(self) -> list[Submission]:
        """Return every submission of this campaign (orphans included), ordered by key."""
        with self._read() as db:
            rows = db.execute(SUBMISSION_QUERY + " ORDER BY key", (self.campaign,)).fetchall()
        return [submission_from_row(row) for row in rows]

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

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> PostgresReads:
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
