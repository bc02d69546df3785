"""The simulated provider's request handling: auth, faults, routes, counters (no sockets)."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.simulator import submits
from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.media import PNG, clip_bytes
from orchestrator.simulator.submits import Refusal
from orchestrator.simulator.tasks import VIDEO_ACTIONS, SimTask, TaskBook

_FETCH = re.compile(r"/mj/task/([^/]+)/fetch$")
_CLIP = re.compile(r"/cdn/(\d+)/(\d+)\.mp4$")
_PICTURE = re.compile(r"/cdn/(\d+)/(grid|image)\.png$")
_UPLOAD = re.compile(r"/cdn/upload/(\d+)\.\w+$")
_MODE_PREFIX = re.compile(r"^/mj-(?:fast|relax|turbo)(?=/mj/)")
_DATA_URI = re.compile(r"data:(image/[\w.+-]+);base64,(.+)$", re.DOTALL)
SUBMIT_ROUTES = frozenset({"video", "imagine", "action", "modal"})
_FAIL_REASONS = ("执行超时 5 分钟", "Image denied: the start frame breaks the content policy")


@dataclass(frozen=True)
class Reply:
    """One HTTP answer; ``drop`` closes the connection instead of sending it."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False


def json_reply(status: int, payload: Any, **headers: str) -> Reply:
    """Return a JSON reply."""
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)


def envelope(code: int, description: str, result: Any = None, **props: Any) -> Reply:
    """Return a submit envelope (always HTTP 200, like the provider)."""
    payload = {"code": code, "description": description, "result": result, "properties": props}
    return json_reply(200, payload)


def upstream_error(description: str) -> Reply:
    """Return the gateway's HTTP 400 body, trailing space included."""
    return json_reply(400, {"description": f"{description} ", "type": "upstream_error", "code": 4})


class FakeProvider:
    """Answers provider requests from an in-memory account; thread-safe behind one lock."""

    def __init__(self, config: SimulatorConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.lock = threading.Lock()  # one lock: every request is O(1), contention stays low
        self.base_url = ""  # set by the server once it has a port
        self._clock = clock
        self._rng = random.Random(config.seed)
        self._book = TaskBook(config.slots, config.job_seconds, time.time() - clock())
        self._keys: dict[str, str] = {}  # idempotency key -> task id
        self._uploads: list[tuple[str, bytes]] = []
        self.charged: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.charged_total = 0
        self.first_accepted: float | None = None  # clock time of the first charged submit
        self.submit_requests = 0
        self._failures = 0

    def handle(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        """Answer one request; ``headers`` keys are lower-case."""
        path = _MODE_PREFIX.sub("", path.split("?", 1)[0])
        with self.lock:
            now = self._clock()
            self._book.advance(now)
            self.routes[_route_name(method, path)] += 1
            if method == "GET" and path.startswith("/cdn/"):
                return self._cdn(path, now)
            if headers.get("authorization") != f"Bearer {self.config.api_key}":
                return json_reply(401, _gateway_error("Invalid token (request id: sim)"))
            return self._http_fault() or self._route(method, path, headers, raw, now)

    def note_fault(self, name: str) -> None:
        """Count a fault the server injected itself (slow responses)."""
        with self.lock:
            self.faults[name] += 1

    def _route(
        self, method: str, path: str, headers: Mapping[str, str], raw: bytes, now: float
    ) -> Reply:
        fetch = _FETCH.match(path)
        if method == "GET" and fetch:
            return self._fetch(fetch.group(1), now)
        if method != "POST" or not path.startswith(("/mj/submit/", "/mj/task/list-by-condition")):
            return json_reply(404, _gateway_error(f"Invalid URL ({method} {path})"))
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return upstream_error("bind_request_body_failed")
        return self._post(path.rsplit("/", 1)[1], headers, body, now)

    def _post(
        self, route: str, headers: Mapping[str, str], body: dict[str, Any], now: float
    ) -> Reply:
        if route == "list-by-condition":
            return self._list(body, now)
        if route == "upload-discord-images":
            return self._upload(body)
        if route not in SUBMIT_ROUTES:
            return json_reply(404, _gateway_error(f"Invalid URL (POST /mj/submit/{route})"))
        self.submit_requests += 1
        try:
            if route == "modal":
                task = submits.answer_modal(self._book, body, now)
                return envelope(1, "Submit success", task.id)
            return self._submit(route, headers, body, now)
        except Refusal as refusal:
            return envelope(refusal.code, refusal.description, None, **refusal.properties)

    def _submit(
        self, route: str, headers: Mapping[str, str], body: dict[str, Any], now: float
    ) -> Reply:
        key = headers.get("idempotency-key") or str(body.get("state") or "")
        if self.config.honor_idempotency_key and key in self._keys:
            return envelope(21, "Task already exists", self._keys[key])
        task = self._build(route, body, now)
        if self._draw("queue_full", self.config.queue_full):
            return envelope(23, "Queue full, please try again later")
        if self.config.credits is not None and self.charged_total >= self.config.credits:
            return upstream_error("quota_not_enough")
        return self._accept(task, key, now)

    def _build(self, route: str, body: dict[str, Any], now: float) -> SimTask:
        banned = self.config.banned_words
        if route == "video":
            return submits.video_task(self._book, body, now, banned)
        if route == "imagine":
            return submits.imagine_task(self._book, body, now, banned)
        return submits.action_task(self._book, body, now)

    def _accept(self, task: SimTask, key: str, now: float) -> Reply:
        if self._draw("task_failure", self.config.fail_rate):
            task.fail_reason = _FAIL_REASONS[self._failures % 2]  # transient, then final, ...
            self._failures += 1
        self._book.add(task, now)
        if key:
            self._keys[key] = task.id
        self.charged[key] += 1
        self.charged_total += 1
        if self.first_accepted is None:
            self.first_accepted = now
        code, text = (21, "Waiting for window confirm") if task.modal else (1, "Submit success")
        reply = envelope(code, text, task.id)
        if self._draw("drop_after_submit", self.config.drop_after_submit):
            return Reply(reply.status, reply.body, drop=True)
        return reply

    def _fetch(self, task_id: str, now: float) -> Reply:
        task = self._book.get(task_id)
        if task is None:
            return upstream_error("task_not_found")
        return json_reply(200, self._book.to_json(task, now, self._url))

    def _list(self, body: dict[str, Any], now: float) -> Reply:
        ids = body.get("ids")
        if not isinstance(ids, list):
            return upstream_error("bind_request_body_failed")
        found = (self._book.get(str(i)) for i in ids)
        return json_reply(200, [self._book.to_json(t, now, self._url) for t in found if t])

    def _upload(self, body: dict[str, Any]) -> Reply:
        items = body.get("base64Array")
        if not isinstance(items, list) or not items:
            return envelope(4, "base64Array must be a non-empty list")
        urls = []
        for item in items:
            match = _DATA_URI.match(str(item))
            try:
                data = base64.b64decode(match.group(2), validate=True) if match else b""
            except binascii.Error:
                data = b""
            if not match or not data:
                return envelope(4, "base64Array holds an item that is not a base64 image data URI")
            self._uploads.append((match.group(1), data))
            urls.append(self._url(f"/cdn/upload/{len(self._uploads) - 1}.{match.group(1)[6:]}"))
        return envelope(1, "Success", urls)

    def _cdn(self, path: str, now: float) -> Reply:
        if m := _CLIP.match(path):
            return self._clip(m.group(1), int(m.group(2)), now)
        if (m := _PICTURE.match(path)) and self._finished(m.group(1), now):
            return Reply(200, PNG, "image/png")
        if (m := _UPLOAD.match(path)) and int(m.group(1)) < len(self._uploads):
            mime, data = self._uploads[int(m.group(1))]
            return Reply(200, data, mime)
        return Reply(404, b"not found", "text/plain")

    def _clip(self, task_id: str, index: int, now: float) -> Reply:
        task = self._finished(task_id, now)
        if task is None or task.action not in VIDEO_ACTIONS or index >= task.batch:
            return Reply(404, b"not found", "text/plain")
        return Reply(200, clip_bytes(task.id, index, self.config.seed), "video/mp4")

    def _finished(self, task_id: str, now: float) -> SimTask | None:
        task = self._book.get(task_id)
        return task if task and self._book.status(task, now)[0] == "SUCCESS" else None

    def _http_fault(self) -> Reply | None:
        if self._draw("rate_limit", self.config.rate_limit):
            body = _gateway_error("Rate limit reached, please try again later")
            return json_reply(429, body, **{"Retry-After": f"{self.config.retry_after:g}"})
        if self._draw("server_error", self.config.server_error):
            status = self._rng.choice((500, 502, 503))
            page = f"<html><body><h1>{status} Server Error</h1></body></html>".encode()
            return Reply(status, page, "text/html")
        return None

    def _draw(self, fault: str, share: float) -> bool:
        # Draw only for enabled faults, so enabling one leaves the others' sequence alone.
        hit = share > 0 and self._rng.random() < share
        if hit:
            self.faults[fault] += 1
        return hit

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def _route_name(method: str, path: str) -> str:
    if path.startswith("/cdn/"):
        return f"{method} /cdn"
    return f"{method} {_FETCH.sub('/mj/task/{id}/fetch', path)}"


def _gateway_error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "comet_api_error"}}
