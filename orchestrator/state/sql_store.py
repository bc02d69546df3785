"""SqlStore: the one ``Store``, on an SQLite file or a PostgreSQL schema (its ``Link``).

Every change is one transaction; a lifecycle write starts with ``Steps.begin`` (the statuses
the step may start from, the fence, the row lock), then changes the submission, its attempt
and the campaign's money together. Queries are written once with ``?`` placeholders; the link
and its dialect make them the driver's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Self

from orchestrator.state import dump, rows, wakeups
from orchestrator.state.dialect import Link
from orchestrator.state.first_send import first_send
from orchestrator.state.leases import LeaseBook
from orchestrator.state.lifecycle import Action, Status, target
from orchestrator.state.records import (
    FileRecord,
    QcRecord,
    SubmissionSpec,
    UploadRecord,
    to_micros,
)
from orchestrator.state.sql_leases import SqlLeases, lease_channel, success_channel
from orchestrator.state.steps import Steps

_RECORD_QC = (
    "INSERT INTO qc (campaign, key, idx, sha256, passed, result) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (campaign, key, idx) DO UPDATE SET sha256 = excluded.sha256,"
    " passed = excluded.passed, result = excluded.result"
)
_CLEARED = {"task_id": None, "failure": None, "clip_urls": "[]", "image_url": None}


class SqlStore(SqlLeases):
    """The implementation of ``Store``; see ``Store`` for each method's semantics.

    In layers: the reads (``SqlReads``), the leases, slots and holds (``SqlLeases``), then here
    the writes. Writes given an ``owner`` are fenced: ``LeaseLostError`` unless it holds the
    key's lease.
    """

    def __init__(self, link: Link, campaign: str, book: LeaseBook | None = None) -> None:
        super().__init__(link, campaign, book)
        self.path = link.path
        self.wake_poll = link.dialect.wake_poll  # seconds between checks while waiting
        self.connections = link.dialect.connections  # how many a run may use at once
        self._steps = Steps(link, campaign)
        self._declare = (
            "INSERT INTO submissions AS s"
            " (campaign, key, job, kind, step, parent, status, updated_at, request)"
            f" VALUES (?, ?, ?, ?, ?, ?, 'pending', {link.dialect.now}, ?)"
            " ON CONFLICT (campaign, key) DO UPDATE SET job = excluded.job,"
            " request = coalesce(excluded.request, s.request) WHERE s.job <> excluded.job"
            " OR coalesce(s.request, '') <> coalesce(excluded.request, '')"
        )

    def __enter__(self) -> Self:
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

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        self.link.close()

    def clone(self) -> SqlStore:
        """The same campaign on another connection, sharing this store's lease book."""
        return SqlStore(self.link.reopen(), self.campaign, self._book)

    @contextmanager
    def listening(self, channel: str, callback: Callable[[], None]) -> Iterator[None]:
        """Have ``callback`` called whenever something is released on ``channel``."""
        self.link.listen()
        with wakeups.listening(self.link.topic, channel, callback):
            yield

    def check_file(self) -> None:
        """StateError when the backing file was removed or replaced (a no-op without one)."""
        self.link.check()

    def declare(self, specs: Sequence[SubmissionSpec]) -> None:
        """Insert unknown keys as pending and rename known ones, in one transaction."""
        found = [(self.campaign, s.key, s.job, s.kind, s.step, s.parent, s.request) for s in specs]
        with self.link.transaction():
            self.link.execute_many(self._declare, found)

    # The clip checks' records and the upload cache (every campaign's).

    def record_qc(self, record: QcRecord) -> None:
        """Keep the check of one file (replacing an earlier check of that file)."""
        row = (self.campaign, record.key, record.index, record.sha256, int(record.passed))
        self.link.execute(_RECORD_QC, (*row, record.result))

    def upload_url(self, sha256: str) -> str | None:
        """Return the URL an image with this content hash was uploaded to, in any campaign."""
        record = self.upload(sha256)
        return None if record is None else record.url

    def upload(self, sha256: str) -> UploadRecord | None:
        """Return where and when an image with this content hash was last uploaded."""
        return rows.upload(sha256, self.link.execute(rows.UPLOAD, (sha256,)))

    def record_upload(self, sha256: str, url: str) -> None:
        """Remember that the image with this content hash is at ``url`` (uploaded now)."""
        self.link.execute(
            f"INSERT INTO uploads (sha256, url, recorded_at) VALUES (?, ?, {self.link.dialect.now})"
            " ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,"
            " recorded_at = excluded.recorded_at",
            (sha256, url),
        )

    def forget_upload(self, sha256: str) -> None:
        """The uploaded URL is dead (expired or unreachable): the next use uploads again."""
        self.link.execute("DELETE FROM uploads WHERE sha256 = ?", (sha256,))

    # The lifecycle writes.

    def record_intent(
        self, key: str, owner: str, reserved: float, *, sent_key: str | None = None
    ) -> int:
        """Commit the intent to submit (-> submitting); returns the new attempt's number."""
        first_key = sent_key or f"{key[:32]}-a1"
        if first_send(self.link, self.campaign, key, owner, to_micros(reserved), first_key):
            return 1
        steps = self._steps
        with self.link.transaction():
            status, attempt = steps.begin(key, Action.SUBMIT, owner)
            if attempt:  # a first send has no attempt before it to close
                steps.abandon(key, status, attempt, f"sent again as attempt {attempt + 1}")
            attempt += 1
            steps.new_attempt(
                key,
                attempt,
                reserved=to_micros(reserved),
                task_id=None,
                outcome=None,
                sent_key=sent_key or f"{key[:32]}-a{attempt}",
            )
            steps.update(
                key, status=target(Action.SUBMIT), attempt=attempt, reason=None, **_CLEARED
            )
            return attempt

    def record_task(
        self, key: str, task_id: str, charged: float, *, owner: str | None = None
    ) -> None:
        """The provider accepted the submission (-> submitted); the reservation becomes a charge."""
        with self.link.transaction():
            _, attempt = self._steps.begin(key, Action.TASK, owner)
            money = {"reserved": 0, "charged": to_micros(charged)}
            self._steps.set_attempt(key, attempt, task_id=task_id, **money)
            self._steps.update(key, status=target(Action.TASK), task_id=task_id)

    def record_followup(
        self, key: str, task_id: str, charged: float = 0.0, *, owner: str | None = None
    ) -> None:
        """The task goes on under a new id (a modal was answered): polls follow the new one."""
        with self.link.transaction():
            _, attempt = self._steps.begin(key, Action.FOLLOWUP, owner)
            extra = to_micros(charged) + self._steps.charged(key, attempt)
            self._steps.set_attempt(key, attempt, task_id=task_id, charged=extra)
            self._steps.update(key, status=target(Action.FOLLOWUP), task_id=task_id)

    def record_rejected(self, key: str, reason: str, *, owner: str | None = None) -> None:
        """The provider refused the submission without charging (-> pending)."""
        with self.link.transaction():
            _, attempt = self._steps.begin(key, Action.REJECTED, owner)
            self._steps.set_attempt(key, attempt, reserved=0, outcome="rejected", reason=reason)
            self._steps.update(key, status=target(Action.REJECTED), reason=reason)

    def record_running(self, key: str, *, owner: str | None = None) -> None:
        """The task was seen in progress (-> running); repeating it is harmless."""
        with self.link.transaction():
            self._steps.begin(key, Action.RUNNING, owner)
            self._steps.update(key, status=target(Action.RUNNING))

    def record_success(
        self,
        key: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        *,
        owner: str | None = None,
    ) -> None:
        """The task finished (-> succeeded) with these clip URLs and image URL."""
        with self.link.transaction():
            _, attempt = self._steps.begin(key, Action.SUCCESS, owner)
            self._steps.set_attempt(key, attempt, outcome="succeeded", reason=None)
            urls = json.dumps(list(clip_urls))
            self._steps.update(
                key, status=target(Action.SUCCESS), clip_urls=urls, image_url=image_url
            )
            # Runners waiting for it need not any more, unless they wait for its clips.
            self.link.notify(success_channel(key))

    def record_failure(
        self, key: str, *, final: bool, reason: str, refund: bool, owner: str | None = None
    ) -> None:
        """The submission failed (-> failed); frees the reservation, optionally refunds."""
        with self.link.transaction():
            status, attempt = self._steps.begin(key, Action.FAILURE, owner)
            # A pending key has no attempt in flight (never sent, or its refusal was recorded).
            if status != Status.PENDING:
                money = {"reserved": 0}
                if refund:
                    money["refunded"] = self._steps.charged(key, attempt)
                self._steps.set_attempt(key, attempt, outcome="failed", reason=reason, **money)
            failure = "final" if final else "retryable"
            self._steps.update(key, status=target(Action.FAILURE), failure=failure, reason=reason)

    def record_files(
        self, key: str, files: Sequence[FileRecord], *, owner: str | None = None
    ) -> None:
        """Replace the key's downloaded files (-> downloaded)."""
        with self.link.transaction():
            self._steps.begin(key, Action.FILES, owner)
            self._steps.replace_files(key, files)
            self._steps.update(key, status=target(Action.FILES))
            self.link.notify(lease_channel(key))  # runners waiting for its clips: they are saved

    def reset(self, key: str, reason: str) -> None:
        """Send the key back to pending for a new attempt; history and money are kept."""
        with self.link.transaction():
            status, attempt = self._steps.begin(key, Action.RESET, None)
            self._steps.abandon(key, status, attempt, reason)
            self._steps.replace_files(key, ())
            self._steps.update(key, status=target(Action.RESET), reason=reason, **_CLEARED)

    def adopt(
        self,
        key: str,
        task_id: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        files: Sequence[FileRecord],
    ) -> None:
        """Record work done elsewhere as a new, uncharged attempt (-> downloaded or succeeded)."""
        steps = self._steps
        with self.link.transaction():
            status, attempt = steps.begin(key, Action.ADOPT, None)
            steps.abandon(key, status, attempt, "adopted from a manifest")
            steps.new_attempt(key, attempt + 1, task_id=task_id, outcome="adopted")
            steps.replace_files(key, files)
            steps.update(
                key,
                status=target(Action.ADOPT) if files else Status.SUCCEEDED,
                attempt=attempt + 1,
                task_id=task_id,
                failure=None,
                reason=None,
                clip_urls=json.dumps(list(clip_urls)),
                image_url=image_url,
            )

    # Whole campaigns (``mjv state copy``).

    def campaign_names(self) -> list[str]:
        """Every campaign with submissions or money in this location, sorted."""
        return dump.campaign_names(self.link)

    def export_campaign(self, campaign: str) -> dump.CampaignDump:
        """Read every row of ``campaign``, and the upload cache, in one snapshot."""
        return dump.export_campaign(self.link, campaign)

    def import_campaign(self, found: dump.CampaignDump) -> None:
        """Insert ``found`` in one transaction; StateError when the campaign already exists."""
        dump.import_campaign(self.link, found)
