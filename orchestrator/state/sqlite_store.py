"""SqliteStore: the Store on one SQLite file (WAL), each change its own committed transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

from orchestrator.state.leases import check_fence
from orchestrator.state.lifecycle import Action, Status, sources, target
from orchestrator.state.records import FileRecord, Submission, SubmissionSpec
from orchestrator.state.schema import connect
from orchestrator.state.sqlite_base import SUBMISSION_QUERY, submission_from_row, to_micros
from orchestrator.state.sqlite_leases import SqliteLeases, ensure_limit_tables
from orchestrator.state.sqlite_reads import SqliteReads
from orchestrator.state.sqlite_transfer import SqliteTransfer

_DECLARE = (
    "INSERT INTO submissions (campaign, key, job, kind, step, parent, status, updated_at, request)"
    " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
    " ON CONFLICT (campaign, key) DO UPDATE SET job = excluded.job,"
    " request = coalesce(excluded.request, request)"
    " WHERE job != excluded.job OR request IS NOT excluded.request"
)
_CLEARED = {"task_id": None, "failure": None, "clip_urls": "[]", "image_url": None}


def open_store(path: Path, campaign: str, *, clock: Callable[[], float] = time.time) -> SqliteStore:
    """Open (creating or migrating) the state file at ``path`` for ``campaign``."""
    path = Path(path)  # tolerate a str from callers that skip the CLI's conversion
    db = connect(path)
    ensure_limit_tables(db, path)
    return SqliteStore(db, path, campaign, clock)


class SqliteStore(SqliteLeases, SqliteReads, SqliteTransfer):
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

    def get(self, key: str) -> Submission | None:
        """Return the submission with ``key``, or None when it was never declared."""
        with self._read() as db:
            row = db.execute(SUBMISSION_QUERY + " AND key = ?", (self.campaign, key)).fetchone()
        return None if row is None else submission_from_row(row)

    def submissions(self) -> list[Submission]:
        """Return every submission of this campaign (orphans included), ordered by key."""
        with self._read() as db:
            rows = db.execute(SUBMISSION_QUERY + " ORDER BY key", (self.campaign,)).fetchall()
        return [submission_from_row(row) for row in rows]

    def _begin(self, key: str, action: Action, owner: str | None) -> tuple[str, int]:
        """Check ``action`` may start (status and fence); return (status, attempt).

        Call inside ``_write``: the check and the change share one transaction.
        """
        allowed = tuple(sources(action))
        status, attempt, holder = self._expect(self._db, key, allowed, str(action))
        check_fence(key, holder, owner)
        return status, attempt

    def record_intent(
        self, key: str, owner: str, reserved: float, *, sent_key: str | None = None
    ) -> int:
        """Commit the intent to submit (-> submitting); returns the new attempt's number."""
        with self._write() as db:
            status, attempt = self._begin(key, Action.SUBMIT, owner)
            self._abandon(db, key, status, attempt, f"sent again as attempt {attempt + 1}")
            attempt += 1
            self._start_attempt(db, key, attempt)
            self._set_attempt(
                db,
                key,
                attempt,
                reserved=to_micros(reserved),
                task_id=None,
                outcome=None,
                sent_key=sent_key or f"{key[:32]}-a{attempt}",
            )
            self._update(
                db, key, status=target(Action.SUBMIT), attempt=attempt, reason=None, **_CLEARED
            )
            return attempt

    def record_task(
        self, key: str, task_id: str, charged: float, *, owner: str | None = None
    ) -> None:
        """The provider accepted the submission (-> submitted); the reservation becomes a charge."""
        with self._write() as db:
            _, attempt = self._begin(key, Action.TASK, owner)
            self._set_attempt(
                db, key, attempt, task_id=task_id, reserved=0, charged=to_micros(charged)
            )
            self._update(db, key, status=target(Action.TASK), task_id=task_id)

    def record_followup(
        self, key: str, task_id: str, charged: float = 0.0, *, owner: str | None = None
    ) -> None:
        """The task goes on under a new id (a modal was answered): polls follow the new one."""
        with self._write() as db:
            _, attempt = self._begin(key, Action.FOLLOWUP, owner)
            extra = to_micros(charged) + self._charged(key, attempt)
            self._set_attempt(db, key, attempt, task_id=task_id, charged=extra)
            self._update(db, key, status=target(Action.FOLLOWUP), task_id=task_id)

    def record_rejected(self, key: str, reason: str, *, owner: str | None = None) -> None:
        """The provider refused the submission without charging (-> pending)."""
        with self._write() as db:
            _, attempt = self._begin(key, Action.REJECTED, owner)
            self._set_attempt(db, key, attempt, reserved=0, outcome="rejected", reason=reason)
            self._update(db, key, status=target(Action.REJECTED), reason=reason)

    def record_running(self, key: str, *, owner: str | None = None) -> None:
        """The task was seen in progress (-> running); repeating it is harmless."""
        with self._write() as db:
            self._begin(key, Action.RUNNING, owner)
            self._update(db, key, status=target(Action.RUNNING))

    def record_success(
        self,
        key: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        *,
        owner: str | None = None,
    ) -> None:
        """The task finished (-> succeeded) with these clip URLs and image URL."""
        with self._write() as db:
            _, attempt = self._begin(key, Action.SUCCESS, owner)
            self._set_attempt(db, key, attempt, outcome="succeeded", reason=None)
            urls = json.dumps(list(clip_urls))
            self._update(
                db, key, status=target(Action.SUCCESS), clip_urls=urls, image_url=image_url
            )

    def record_failure(
        self, key: str, *, final: bool, reason: str, refund: bool, owner: str | None = None
    ) -> None:
        """The submission failed (-> failed); frees the reservation, optionally refunds."""
        with self._write() as db:
            status, attempt = self._begin(key, Action.FAILURE, owner)
            # A pending key has no attempt in flight (never sent, or its refusal was recorded).
            if status != Status.PENDING:
                money = {"reserved": 0}
                if refund:
                    money["refunded"] = self._charged(key, attempt)
                self._set_attempt(db, key, attempt, outcome="failed", reason=reason, **money)
            failure = "final" if final else "retryable"
            self._update(db, key, status=target(Action.FAILURE), failure=failure, reason=reason)

    def _charged(self, key: str, attempt: int) -> int:
        """The charge of one attempt in micro-units (0 when it has none)."""
        row = self._db.execute(
            "SELECT charged FROM attempts WHERE campaign = ? AND key = ? AND attempt = ?",
            (self.campaign, key, attempt),
        ).fetchone()
        return 0 if row is None else int(row[0])

    def record_files(
        self, key: str, files: Sequence[FileRecord], *, owner: str | None = None
    ) -> None:
        """Replace the key's downloaded files (-> downloaded)."""
        with self._write() as db:
            self._begin(key, Action.FILES, owner)
            self._replace_files(db, key, files)
            self._update(db, key, status=target(Action.FILES))

    def reset(self, key: str, reason: str) -> None:
        """Send the key back to pending for a new attempt; history and money are kept."""
        with self._write() as db:
            status, attempt = self._begin(key, Action.RESET, None)
            self._abandon(db, key, status, attempt, reason)
            self._replace_files(db, key, ())
            self._update(db, key, status=target(Action.RESET), reason=reason, **_CLEARED)

    def adopt(
        self,
        key: str,
        task_id: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        files: Sequence[FileRecord],
    ) -> None:
        """Record work done elsewhere as a new, uncharged attempt (-> downloaded or succeeded)."""
        with self._write() as db:
            status, attempt = self._begin(key, Action.ADOPT, None)
            self._abandon(db, key, status, attempt, "adopted from a manifest")
            self._start_attempt(db, key, attempt + 1)
            self._set_attempt(db, key, attempt + 1, task_id=task_id, outcome="adopted")
            self._replace_files(db, key, files)
            self._update(
                db,
                key,
                status=target(Action.ADOPT) if files else Status.SUCCEEDED,
                attempt=attempt + 1,
                task_id=task_id,
                failure=None,
                reason=None,
                clip_urls=json.dumps(list(clip_urls)),
                image_url=image_url,
            )
