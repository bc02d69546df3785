"""The simulated provider's request handling: auth, faults, routes, counters (no sockets)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.simulator import submits
from orchestrator.simulator.cdn import Cdn, is_download
from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.faults import FAIL_REASONS, Faults
from orchestrator.simulator.ledger import Ledger, SubmitRecord
from orchestrator.simulator.replies import (
    Reply,
    envelope,
    gateway_error,
    json_reply,
    logic_refusal,
    upstream_error,
)
from orchestrator.simulator.submits import Refusal
from orchestrator.simulator.tasks import SimTask, TaskBook
from orchestrator.simulator.uploads import DEAD_START_FRAME, Upload, UploadStore
from orchestrator.simulator.world import World

__all__ = ["FakeProvider", "Reply", "envelope", "json_reply", "upstream_error"]

_FETCH = re.compile(r"/mj/task/([^/]+)/fetch$")
_MODE_PREFIX = re.compile(r"^/mj-(fast|relax|turbo)(?=/mj/)")
_DATA_URI = re.compile(r"data:(image/[\w.+-]+);base64,(.+)$", re.DOTALL)
SUBMIT_ROUTES = frozenset({"video", "imagine", "action", "modal", "upload-discord-images"})


@dataclass(frozen=True)
class Call:
    """One submit request, as the provider reads it."""

    route: str  # video, extend, imagine, action, modal, upload
    mode: str  # from the path prefix; fast without one
    key: str  # Idempotency-Key header, else the body's state
    header_key: str  # Idempotency-Key header only
    body: dict[str, Any]
    now: float


class FakeProvider:
    """Answers provider requests from one simulated account; thread-safe behind one lock."""

    def __init__(
        self,
        config: SimulatorConfig,
        clock: Callable[[], float] = time.monotonic,
        world: Path | None = None,
    ) -> None:
        self.config = config
        self.lock = threading.Lock()  # one lock: every request is O(1), contention stays low
        self.base_url = ""  # set by the server once it has a port
        self._clock = clock
        epoch = time.time() - clock()  # Unix time at clock zero
        self._book = TaskBook(config, epoch)
        self.uploads = UploadStore(lambda t: epoch + t)
        self.ledger = Ledger(config.prices)
        self._faults = Faults(config)
        self._cdn = Cdn(config, self._book, self.uploads)
        self.routes: Counter[str] = Counter()
        self._inflight: set[str] = set()  # Idempotency-Keys whose answer is not sent yet
        self._claimed = ""  # the key the current submit put in flight
        self.first_accepted: float | None = None  # clock time of the first charged submit
        self._world = World(world, epoch) if world is not None else None
        self._failures = 0
        self._book.on_change, self._book.on_end = self._save_task, self._ended
        if self._world is not None:
            self._replay(self._world)

    @property
    def faults(self) -> Counter[str]:
        """Faults injected so far, by option name."""
        return self._faults.counts

    @property
    def submit_requests(self) -> int:
        """Submit requests received."""
        return len(self.ledger.submits)

    @property
    def peak_running(self) -> int:
        """Most tasks of the account running at once."""
        return self._book.peak

    def book(self) -> TaskBook:
        """The account's tasks (for inspection in tests)."""
        return self._book

    def handle(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        """Answer one request; ``headers`` keys are lower-case."""
        path = path.split("?", 1)[0]
        prefix = _MODE_PREFIX.match(path)
        mode = prefix.group(1) if prefix else "fast"
        path = path[prefix.end() :] if prefix else path
        with self.lock:
            now = self._clock()
            self._book.advance(now)
            self.routes[_route_name(method, path)] += 1
            if is_download(method, path):
                return self._cdn.serve(path, headers, now)
            if headers.get("authorization") != f"Bearer {self.config.api_key}":
                return gateway_error(401, "Invalid token (request id: sim)")
            return self._api(method, path, mode, headers, raw, now)

    def release(self, key: str) -> None:
        """The answer for an Idempotency-Key was sent: the key is no longer being processed."""
        with self.lock:
            self._inflight.discard(key)

    def note_fault(self, name: str) -> None:
        """Count a fault the server injected itself (slow responses)."""
        with self.lock:
            self.faults[name] += 1

    def advance(self) -> None:
        """Apply the clock to the tasks (ends and refunds) without a request."""
        with self.lock:
            self._book.advance(self._clock())

    def _api(
        self, method: str, path: str, mode: str, headers: Mapping[str, str], raw: bytes, now: float
    ) -> Reply:
        fetch = _FETCH.match(path)
        route = path.rsplit("/", 1)[1]
        is_submit = method == "POST" and path == f"/mj/submit/{route}" and route in SUBMIT_ROUTES
        is_list = method == "POST" and path == "/mj/task/list-by-condition"
        if not (is_submit or is_list or (method == "GET" and fetch)):
            return gateway_error(404, f"Invalid URL ({method} {path})")
        body = _json_object(raw)
        if not is_submit:
            return self._faults.api() or self._read(fetch.group(1) if fetch else None, body, now)
        key = headers.get("idempotency-key", "")
        state = str(body.get("state") or "") if body else ""
        call = Call(_submit_route(route, body), mode, key or state, key, body or {}, now)
        return self._logged(call, state, body is None)

    def _read(self, task_id: str | None, body: dict[str, Any] | None, now: float) -> Reply:
        if task_id is not None:
            task = self._book.get(task_id)
            if task is None:
                return upstream_error("task_not_found")
            return json_reply(200, self._book.to_json(task, now, self._url))
        ids = body.get("ids") if body else None
        if not isinstance(ids, list):
            return upstream_error("bind_request_body_failed")
        found = (self._book.get(str(i)) for i in ids)
        return json_reply(200, [self._book.to_json(t, now, self._url) for t in found if t])

    def _logged(self, call: Call, state: str, unreadable: bool) -> Reply:
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
        elif any(self.uploads.dead(body.get(k), task.created) for k in ("image", "endImage")):
            task.fail_reason = DEAD_START_FRAME

    def _accept(self, task: SimTask, call: Call) -> Reply:
        if self._faults.draw("task_failure", self.config.fail_rate) and not task.fail_reason:
            task.fail_reason = FAIL_REASONS[self._failures % 2]  # transient, then final, ...
            self._failures += 1
        task.stall = self._faults.draw("stall", self.config.stall)
        self._charge(call.route, call, task.id)
        self._book.add(task, call.now)
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
        self._charge("upload", call, "")
        expires = call.now + self.config.upload_ttl
        urls = []
        for mime, data in (d for d in decoded if d):
            upload = Upload(mime, data, call.now, expires)
            urls.append(self._url(self.uploads.add(upload)))
            self._save("upload", upload)
        return envelope(1, "Success", urls)

    def _charge(self, kind: str, call: Call, task_id: str) -> None:
        self._save("charge", self.ledger.charge(kind, call.mode, call.key, task_id))

    def _ended(self, task: SimTask) -> None:
        self._save_task(task)
        if self._book.outcome(task)[1] is not None:
            refund = self.ledger.refund_of(task.id)
            if refund is not None:
                self.ledger.apply(refund)
                self._save("charge", refund)

    def _save_task(self, task: SimTask) -> None:
        self._save("task", task)

    def _save(self, kind: str, value: object) -> None:
        if self._world is not None:
            self._world.append(kind, value)

    def _replay(self, world: World) -> None:
        for kind, value in world.load():
            if kind == "task":
                self._book.restore(value)
            elif kind == "upload":
                self.uploads.items.append(value)
            elif kind == "charge":
                self.ledger.apply(value)
            else:
                self.ledger.submits.append(value)
        self._book.rebuild(self._clock())

    def close(self) -> None:
        """Close the world file, if any."""
        with self.lock:
            if self._world is not None:
                self._world.close()

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _submit_route(route: str, body: dict[str, Any] | None) -> str:
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


def _route_name(method: str, path: str) -> str:
    if path.startswith("/cdn/"):
        return f"{method} /cdn"
    if path.startswith("/mj/image/"):
        return f"{method} /mj/image"
    return f"{method} {_FETCH.sub('/mj/task/{id}/fetch', path)}"
