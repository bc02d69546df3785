"""PostgresStore: the Store on a PostgreSQL schema, shared by runners on many machines.

Each change is one transaction that locks the submission's row first, so a fenced write and
a competing claim can never interleave; leases expire by the database's clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Self

from orchestrator.state.lifecycle import Action, Status, target
from orchestrator.state.postgres_leases import PostgresLeases
from orchestrator.state.postgres_reads import PostgresReads
from orchestrator.state.postgres_schema import NOW, connect
from orchestrator.state.postgres_transfer import PostgresTransfer
from orchestrator.state.records import FileRecord, SubmissionSpec
from orchestrator.state.url import PostgresUrl, parse_postgres_url

_DECLARE = (
    "INSERT INTO submissions AS s"
    " (campaign, key, job, kind, step, parent, status, updated_at, request)"
    f" VALUES (%s, %s, %s, %s, %s, %s, 'pending', {NOW}, %s)"
    " ON CONFLICT (campaign, key) DO UPDATE SET job = excluded.job,"
    " request = coalesce(excluded.request, s.request)"
    " WHERE s.job <> excluded.job OR s.request IS DISTINCT FROM excluded.request"
)
_CLEARED = {"task_id": None, "failure": None, "clip_urls": "[]", "image_url": None}


def open_postgres(url: PostgresUrl | str, campaign: str) -> PostgresStore:
    """Connect to the state at ``url`` (creating or migrating its schema) for ``campaign``."""
    found = url if isinstance(url, PostgresUrl) else parse_postgres_url(url)
    return PostgresStore(connect(found), found, campaign)


class PostgresStore(PostgresLeases, PostgresReads, PostgresTransfer):
    """The PostgreSQL implementation of ``Store``; see ``Store`` for each method's semantics."""

    def __enter__(self) -> Self:
        """Return the store itself."""
        return self

    def declare(self, specs: Sequence[SubmissionSpec]) -> None:
        """Insert unknown keys as pending and rename known ones, in one transaction."""
        rows = [(self.campaign, s.key, s.job, s.kind, s.step, s.parent, s.request) for s in specs]
        with self._write() as db, db.cursor() as cursor:
            cursor.executemany(_DECLARE, rows)

    def record_intent(
        self, key: str, owner: str, reserved: float, *, sent_key: str | None = None
    ) -> int:
        """Commit the intent to submit (-> submitting); returns the new attempt's number."""
        with self._write():
            status, attempt = self._begin(key, Action.SUBMIT, owner)
            self._abandon(key, status, attempt, f"sent again as attempt {attempt + 1}")
            attempt += 1
            self._start_attempt(key, attempt)
            micros = round(reserved * 1_000_000)
            self._set_attempt(
                key,
                attempt,
                reserved=micros,
                task_id=None,
                outcome=None,
                sent_key=sent_key or f"{key[:32]}-a{attempt}",
            )
            self._update(
                key, status=target(Action.SUBMIT), attempt=attempt, reason=None, **_CLEARED
            )
            return attempt

    def record_task(
        self, key: str, task_id: str, charged: float, *, owner: str | None = None
    ) -> None:
        """The provider accepted the submission (-> submitted); the reservation becomes a charge."""
        with self._write():
            _, attempt = self._begin(key, Action.TASK, owner)
            micros = round(charged * 1_000_000)
            self._set_attempt(key, attempt, task_id=task_id, reserved=0, charged=micros)
            self._update(key, status=target(Action.TASK), task_id=task_id)

    def record_followup(
        self, key: str, task_id: str, charged: float = 0.0, *, owner: str | None = None
    ) -> None:
        """The task goes on under a new id (a modal was answered): polls follow the new one."""
        with self._write():
            _, attempt = self._begin(key, Action.FOLLOWUP, owner)
            extra = round(charged * 1_000_000) + self._charged(key, attempt)
            self._set_attempt(key, attempt, task_id=task_id, charged=extra)
            self._update(key, status=target(Action.FOLLOWUP), task_id=task_id)

    def record_rejected(self, key: str, reason: str, *, owner: str | None = None) -> None:
        """The provider refused the submission without charging (-> pending)."""
        with self._write():
            _, attempt = self._begin(key, Action.REJECTED, owner)
            self._set_attempt(key, attempt, reserved=0, outcome="rejected", reason=reason)
            self._update(key, status=target(Action.REJECTED), reason=reason)

    def record_running(self, key: str, *, owner: str | None = None) -> None:
        """The task was seen in progress (-> running); repeating it is harmless."""
        with self._write():
            self._begin(key, Action.RUNNING, owner)
            self._update(key, status=target(Action.RUNNING))

    def record_success(
        self,
        key: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        *,
        owner: str | None = None,
    ) -> None:
        """The task finished (-> succeeded) with these clip URLs and image URL."""
        with self._write():
            _, attempt = self._begin(key, Action.SUCCESS, owner)
            self._set_attempt(key, attempt, outcome="succeeded", reason=None)
            urls = json.dumps(list(clip_urls))
            self._update(key, status=target(Action.SUCCESS), clip_urls=urls, image_url=image_url)

    def record_failure(
        self, key: str, *, final: bool, reason: str, refund: bool, owner: str | None = None
    ) -> None:
        """The submission failed (-> failed); frees the reservation, optionally refunds."""
        with self._write():
            status, attempt = self._begin(key, Action.FAILURE, owner)
            # A pending key has no attempt in flight (never sent, or its refusal was recorded).
            if status != Status.PENDING:
                money = {"reserved": 0}
                if refund:
                    money["refunded"] = self._charged(key, attempt)
                self._set_attempt(key, attempt, outcome="failed", reason=reason, **money)
            failure = "final" if final else "retryable"
            self._update(key, status=target(Action.FAILURE), failure=failure, reason=reason)

    def _charged(self, key: str, attempt: int) -> int:
        """The charge of one attempt in micro-units (0 when it has none)."""
        row = self._db.execute(
            "SELECT charged FROM attempts WHERE campaign = %s AND key = %s AND attempt = %s",
            (self.campaign, key, attempt),
        ).fetchone()
        return 0 if row is None else int(row[0])

    def record_files(
        self, key: str, files: Sequence[FileRecord], *, owner: str | None = None
    ) -> None:
        """Replace the key's downloaded files (-> downloaded)."""
        with self._write():
            self._begin(key, Action.FILES, owner)
            self._replace_files(key, files)
            self._update(key, status=target(Action.FILES))

    def reset(self, key: str, reason: str) -> None:
        """Send the key back to pending for a new attempt; history and money are kept."""
        with self._write():
            status, attempt = self._begin(key, Action.RESET, None)
            self._abandon(key, status, attempt, reason)
            self._replace_files(key, ())
            self._update(key, status=target(Action.RESET), reason=reason, **_CLEARED)

    def adopt(
        self,
        key: str,
        task_id: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        files: Sequence[FileRecord],
    ) -> None:
        """Record work done elsewhere as a new, uncharged attempt (-> downloaded or succeeded)."""
        with self._write():
            status, attempt = self._begin(key, Action.ADOPT, None)
            self._abandon(key, status, attempt, "adopted from a manifest")
            self._start_attempt(key, attempt + 1)
            self._set_attempt(key, attempt + 1, task_id=task_id, outcome="adopted")
            self._replace_files(key, files)
            self._update(
                key,
                status=target(Action.ADOPT) if files else Status.SUCCEEDED,
                attempt=attempt + 1,
                task_id=task_id,
                failure=None,
                reason=None,
                clip_urls=json.dumps(list(clip_urls)),
                image_url=image_url,
            )
