"""The simulated provider's request handling: auth, faults, routes, counters (no sockets)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.simulator.cdn import Cdn, is_download
from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.desk import Call, SubmitDesk, submit_route
from orchestrator.simulator.faults import Faults
from orchestrator.simulator.ledger import Ledger
from orchestrator.simulator.replies import (
    Reply,
    envelope,
    gateway_error,
    json_reply,
    upstream_error,
)
from orchestrator.simulator.tasks import SimTask, TaskBook
from orchestrator.simulator.uploads import UploadStore
from orchestrator.simulator.world import World

__all__ = ["FakeProvider", "Reply", "envelope", "json_reply", "upstream_error"]

_FETCH = re.compile(r"/mj/task/([^/]+)/fetch$")
_MODE_PREFIX = re.compile(r"^/mj-(fast|relax|turbo)(?=/mj/)")
SUBMIT_ROUTES = frozenset({"video", "imagine", "action", "modal", "upload-discord-images"})


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
        self._world = World(world, epoch) if world is not None else None
        self._desk = SubmitDesk(
            config, self._book, self.uploads, self.ledger, self._faults, self._save, self._url
        )
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
    def first_accepted(self) -> float | None:
        """Clock time of the first charged submission."""
        return self._desk.first_accepted

    @property
    def peak_running(self) -> int:
        """Most tasks of the account running at once."""
        return self._book.peak

    def now(self) -> float:
        """The account's clock (profiles date their answers by it)."""
        return self._clock()

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
            self._desk.release(key)

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
        call = Call(submit_route(route, body), mode, key or state, key, body or {}, now)
        return self._desk.answer(call, state, body is None)

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

    def _ended(self, task: SimTask) -> None:
        self._save_task(task)
        if self.config.refunds and self._book.outcome(task)[1] is not None:
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
        """Close the world file, if any; the in-memory world stays readable."""
        with self.lock:
            if self._world is not None:
                self._world.close()
            self._world = None  # later changes (reading the ledger after stop) stay in memory

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _route_name(method: str, path: str) -> str:
    if path.startswith("/cdn/"):
        return f"{method} /cdn"
    if path.startswith("/mj/image/"):
        return f"{method} /mj/image"
    if path.startswith("/images/"):
        return f"{method} /images"
    return f"{method} {_FETCH.sub('/mj/task/{id}/fetch', path)}"
