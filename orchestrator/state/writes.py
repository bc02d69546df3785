"""The write side both stores share: each lifecycle step written once, on either database.

Every method is one transaction (``_write``) that starts with ``_begin``: the lifecycle table
says which statuses the step may start from, and a fenced write checks the lease. The stores
provide the helpers (``_begin``, ``_update``, ``_set_attempt`` and the rest), which hold their
dialect of SQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from orchestrator.state.lifecycle import Action, Status, target
from orchestrator.state.reads import MICROS
from orchestrator.state.records import FileRecord

_CLEARED = {"task_id": None, "failure": None, "clip_urls": "[]", "image_url": None}


def _micros(amount: float) -> int:
    """An amount of money in stored micro-units."""
    return round(amount * MICROS)


class SharedWrites:
    """The result writes of ``Store`` for any store with the helpers below."""

    campaign: str
    _db: Any
    _book: Any  # the store's LeaseBook: which keys each owner took

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # the store's own classes provide the helpers

    def _sql(self, text: str) -> str:
        return text

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s lease on ``key``; a lease held by someone else is left alone."""
        with self._write() as db:
            db.execute(
                self._sql(
                    "UPDATE submissions SET lease_owner = NULL, lease_until = NULL"
                    " WHERE campaign = ? AND key = ? AND lease_owner = ?"
                ),
                (self.campaign, key, owner),
            )
        self._book.dropped(owner, key)

    def release_all(self, owner: str) -> None:
        """Drop every lease, slot and hold ``owner`` has in this campaign (a runner is done)."""
        with self._write() as db:
            db.execute(
                self._sql(
                    "UPDATE submissions SET lease_owner = NULL, lease_until = NULL"
                    " WHERE lease_owner = ? AND campaign = ?"
                ),
                (owner, self.campaign),
            )
            db.execute(
                self._sql("UPDATE slots SET owner = NULL, until = NULL WHERE owner = ?"), (owner,)
            )
            db.execute(
                self._sql("DELETE FROM holds WHERE owner = ? AND campaign = ?"),
                (owner, self.campaign),
            )
        self._book.dropped(owner)

    def _begin(self, key: str, action: Action, owner: str | None) -> tuple[Any, int]:
        raise NotImplementedError

    def _update(self, key: str, **fields: Any) -> None:
        raise NotImplementedError

    def _set_attempt(self, key: str, attempt: int, **fields: Any) -> None:
        raise NotImplementedError

    def _start_attempt(self, key: str, attempt: int) -> None:
        raise NotImplementedError

    def _abandon(self, key: str, status: Any, attempt: int, why: str) -> None:
        raise NotImplementedError

    def _replace_files(self, key: str, files: Sequence[FileRecord]) -> None:
        raise NotImplementedError

    def record_intent(
        self, key: str, owner: str, reserved: float, *, sent_key: str | None = None
    ) -> int:
        """Commit the intent to submit (-> submitting); returns the new attempt's number."""
        with self._write():
            status, attempt = self._begin(key, Action.SUBMIT, owner)
            self._abandon(key, status, attempt, f"sent again as attempt {attempt + 1}")
            attempt += 1
            self._start_attempt(key, attempt)
            self._set_attempt(
                key,
                attempt,
                reserved=_micros(reserved),
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
            self._set_attempt(key, attempt, task_id=task_id, reserved=0, charged=_micros(charged))
            self._update(key, status=target(Action.TASK), task_id=task_id)

    def record_followup(
        self, key: str, task_id: str, charged: float = 0.0, *, owner: str | None = None
    ) -> None:
        """The task goes on under a new id (a modal was answered): polls follow the new one."""
        with self._write():
            _, attempt = self._begin(key, Action.FOLLOWUP, owner)
            extra = _micros(charged) + self._charged(key, attempt)
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
            self._sql(
                "SELECT charged FROM attempts WHERE campaign = ? AND key = ? AND attempt = ?"
            ),
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
