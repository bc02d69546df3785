"""The submit desk: every submit's path from faults and refusals to a charged, queued task."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.simulator import submits
from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.faults import FAIL_REASONS, Faults
from orchestrator.simulator.ledger import Ledger, SubmitRecord
from orchestrator.simulator.limits import TASK_ROUTES, user_limit
from orchestrator.simulator.replies import Reply, envelope, logic_refusal, upstream_error
from orchestrator.simulator.submits import Refusal
from orchestrator.simulator.tasks import SimTask, TaskBook
from orchestrator.simulator.uploads import DEAD_START_FRAME, Upload, UploadStore

_DATA_URI = re.compile(r"data:(image/[\w.+-]+);base64,(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Call:
    """One submit request, as the provider reads it."""

    route: str  # video, extend, imagine, action, modal, upload
    mode: str  # from the path prefix; fast without one
    key: str  # Idempotency-Key header, else the body's state
    header_key: str  # Idempotency-Key header only
    body: dict[str, Any]
    now: float


class SubmitDesk:
    """Answers submits (create, extend, imagine, action, modal, upload) for one account."""

    def __init__(
        self,
        config: SimulatorConfig,
        book: TaskBook,
        uploads: UploadStore,
        ledger: Ledger,
        faults: Faults,
        save: Callable[[str, object], None],
        url: Callable[[str], str],
    ) -> None:
        self.config = config
        self._book, self._uploads, self.ledger, self._faults = book, uploads, ledger, faults
        self._save, self._url = save, url
        self._inflight: set[str] = set()  # Idempotency-Keys whose answer is not sent yet
        self._claimed = ""  # the key the current submit put in flight
        self._failures = 0
        self.first_accepted: float | None = None  # clock time of the first charged submit

    def release(self, key: str) -> None:
        """The answer for an Idempotency-Key was sent: the key is no longer being processed."""
        self._inflight.discard(key)

    def answer(self, call: Call, state: str, unreadable: bool) -> Reply:
        """Answer one submit and log it, with its outcome, in the submit log."""
        charges = len(self.ledger.entries)
        reply = self._faults.api() or (
            upstream_error("bind_request_body_failed") if unreadable else self._submit(call)
        )
        if self._claimed:  # answered: the key may be released once the answer is sent
            reply, self._claimed = dataclasses.replace(reply, release=self._claimed), ""
        new = [e for e in self.ledger.entries[charges:] if not e.refund]
        task_id = new[0].task_id if new else ""
        record = SubmitRecord(
            call.route, call.mode, call.header_key, state, reply.status, reply.code(),
            bool(new), task_id, reply.drop,
        )  # fmt: skip
        self.ledger.submits.append(record)
        self._save("submit", record)
        return reply

    def _submit(self, call: Call) -> Reply:
        if refused := self._faults.refusal():
            return refused
        try:
            if call.route == "upload":
                return self._upload(call)
            if call.route == "modal":
                return self._modal(call)
            return self._idempotent(call) or self._new_task(call)
        except Refusal as refusal:
            if refusal.logic:
                return logic_refusal(refusal.description)
            return envelope(refusal.code, refusal.description, None, **refusal.properties)

    def _idempotent(self, call: Call) -> Reply | None:
        key = call.header_key
        if not self.config.honor_idempotency_key or not key:
            return None
        if key in self._inflight:
            return upstream_error("idempotency_conflict")
        if key in self.ledger.keys:
            return envelope(21, "Task already exists", self.ledger.keys[key])
        self._inflight.add(key)
        self._claimed = key
        return None

    def _new_task(self, call: Call) -> Reply:
        # The gateway answers a repeated key itself; a new one meets the upstream's NewTask.
        if call.route in TASK_ROUTES and (limited := user_limit(self.config, self._book, call.now)):
            return limited
        task = self._build(call)
        reply = self._faults.queue_full() or self._quota()
        if reply is not None:
            return reply
        return self._accept(task, call)

    def _quota(self) -> Reply | None:
        credits = self.config.credits
        if credits is not None and self.ledger.charged_calls >= credits:
            return self._faults.quota()
        return None

    def _build(self, call: Call) -> SimTask:
        body, now, config = call.body, call.now, self.config
        if call.route in ("video", "extend"):
            task = submits.video_task(self._book, body, now, call.mode, config.hd)
            self._doom(task, body)
        elif call.route == "imagine":
            task = submits.imagine_task(self._book, body, now, config.banned_words)
        else:
            task = submits.action_task(self._book, body, now)
        task.mode, task.key = call.mode, call.key
        return task

    def _doom(self, task: SimTask, body: dict[str, Any]) -> None:
        # Failures decided at submit: moderation (trueai checks banned words when the task is
        # dequeued, so the video route answers it as a FAILURE) and a dead start frame.
        if submits.banned_word(task.prompt, self.config.banned_words):
            task.fail_reason = self._faults.moderation_text()
        elif any(self._uploads.dead(body.get(k), task.created) for k in ("image", "endImage")):
            task.fail_reason = DEAD_START_FRAME

    def _accept(self, task: SimTask, call: Call) -> Reply:
        if self._faults.draw("task_failure", self.config.fail_rate) and not task.fail_reason:
            task.fail_reason = FAIL_REASONS[self._failures % 2]  # transient, then final, ...
            self._failures += 1
        task.stall = self._faults.draw("stall", self.config.stall)
        self._book.add(task, call.now)  # journaled before its charge: no charge without a task
        self._charge(call.route, call, task.id)
        if self.first_accepted is None:
            self.first_accepted = call.now
        reply = self._accepted(task)
        if self._faults.draw("state_unknown", self.config.state_unknown):
            reply = upstream_error("accepted_state_unknown")
        if self._faults.draw("drop_after_submit", self.config.drop_after_submit):
            return dataclasses.replace(reply, drop=True)
        return reply

    def _accepted(self, task: SimTask) -> Reply:
        if task.modal:
            return envelope(21, "Waiting for window confirm", task.id)
        ahead = self._book.ahead_of(task)
        if ahead is None:
            return envelope(1, "Submit success", task.id)
        text = f"排队中，前面还有{ahead}个任务"
        if self.config.raw_queue_code:
            return envelope(22, text, task.id, numberOfQueues=ahead)
        return envelope(1, text, task.id)  # gateways rewrite 22 to 1

    def _modal(self, call: Call) -> Reply:
        task = submits.answer_modal(self._book, call.body, call.now)
        self._charge("modal", call, task.id)
        return envelope(1, "Submit success", task.id)

    def _upload(self, call: Call) -> Reply:
        items = call.body.get("base64Array")
        if not isinstance(items, list) or not items:
            return envelope(4, "base64Array must be a non-empty list")
        decoded = [_data_uri(item) for item in items]
        if not all(decoded):
            return envelope(4, "base64Array holds an item that is not a base64 image data URI")
        if quota := self._quota():
            return quota
        expires = call.now + self.config.upload_ttl
        urls = []
        for mime, data in (d for d in decoded if d):
            upload = Upload(mime, data, call.now, expires)
            urls.append(self._url(self._uploads.add(upload)))
            self._save("upload", upload)
        self._charge("upload", call, "")  # after the uploads, like a task before its charge
        return envelope(1, "Success", urls)

    def _charge(self, kind: str, call: Call, task_id: str) -> None:
        task = self._book.get(task_id) if task_id else None
        hd = task is not None and task.properties.get("videoType") == submits.HD_VIDEO
        self._save("charge", self.ledger.charge(kind, call.mode, call.key, task_id, hd))


def submit_route(route: str, body: dict[str, Any] | None) -> str:
    """The log's name of a submit route; a video with ``action: extend`` is an extend."""
    if route == "upload-discord-images":
        return "upload"
    return "extend" if route == "video" and body and body.get("action") == "extend" else route


def _data_uri(item: object) -> tuple[str, bytes] | None:
    match = _DATA_URI.match(str(item))
    try:
        data = base64.b64decode(match.group(2), validate=True) if match else b""
    except binascii.Error:
        data = b""
    return (match.group(1), data) if match and data else None
