"""The simulated account's tasks: slots, queueing, the status state machine (no I/O)."""

from __future__ import annotations

import heapq
import itertools
import math
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.simulator.config import SimulatorConfig

VIDEO_ACTIONS = frozenset({"VIDEO", "EXTEND"})
SUBMITTED_SHARE = 0.1  # first tenth of a job: SUBMITTED, then IN_PROGRESS
TIMEOUT_REASON = "上游任务超时（超过1小时）"  # new-api controller/midjourney.go
FIRST_ID = 1_700_000_000_001


@dataclass
class SimTask:
    """One task as the simulator keeps it; its status is derived from the clock."""

    id: str
    action: str
    prompt: str
    state: str
    created: float
    batch: int = 1
    depth: int = 0  # extensions above the original video
    fail_reason: str | None = None
    parent: str | None = None
    start: float | None = None  # when a slot was granted
    modal: bool = False  # waiting for /mj/submit/modal
    properties: dict[str, Any] = field(default_factory=dict)
    mode: str = "fast"
    key: str = ""  # the Idempotency-Key (or state) it was charged under
    stall: bool = False  # never finishes on its own: the gateway times it out
    queued: float | None = None  # when it joined the line for a slot
    seq: int = 0  # order of joining the line
    ended: bool = False  # its end (and any refund) has been recorded
    image: str = ""  # a video's start image URL (its clips start from a picture of it)
    end_image: str = ""  # its end image URL (its clips end on a picture of it)
    loop: bool = False  # its clips end where they start


Hook = Callable[[SimTask], None]


def _ignore(task: SimTask) -> None:
    """Default hook: nothing to record."""


class TaskBook:
    """Every task of one account plus its job slots; amortised O(1) work per request."""

    def __init__(self, config: SimulatorConfig, epoch: float) -> None:
        self.slots = config.slots
        self.job_seconds = config.job_seconds
        self._config = config
        self._epoch = epoch  # wall time at clock zero, for the ms timestamps
        self._tasks: dict[str, SimTask] = {}
        self._waiting: deque[str] = deque()
        self._running: list[tuple[float, int, str]] = []  # heap of (finish, seq, id)
        self._ids = itertools.count(FIRST_ID)
        self._seq = itertools.count()
        self._cursor = -math.inf  # time up to which every slot event has been applied
        self.peak = 0  # most tasks running at once
        self.on_change: Hook = _ignore  # a task started or was registered
        self.on_end: Hook = _ignore  # a task reached SUCCESS or FAILURE

    def new_id(self) -> str:
        """Return a fresh task id: a string of digits, like the provider's."""
        return str(next(self._ids))

    def get(self, task_id: str) -> SimTask | None:
        """Return a task by id, or None."""
        return self._tasks.get(task_id)

    def add(self, task: SimTask, now: float) -> None:
        """Register a new task; it waits for a slot unless it waits for a modal answer."""
        self._tasks[task.id] = task
        if task.modal:
            self.on_change(task)
        else:
            self.enqueue(task, now)

    def created_since(self, start: float | None) -> int:
        """Tasks made at or after ``start`` (all of them with None): the user's draws."""
        return sum(1 for t in self._tasks.values() if start is None or t.created >= start)

    def unfinished(self, now: float) -> int:
        """Tasks not finished at ``now`` (waiting, running, or waiting for a modal)."""
        self.advance(now)
        return sum(1 for t in self._tasks.values() if not t.ended)

    def waiting(self, now: float) -> int:
        """Tasks waiting for a slot at ``now``."""
        self.advance(now)
        return len(self._waiting)

    def enqueue(self, task: SimTask, now: float) -> None:
        """Put a task in line for a slot."""
        task.modal = False
        self.advance(now)
        task.queued, task.seq = now, next(self._seq)
        self._waiting.append(task.id)
        self.on_change(task)
        self.advance(now)

    def ahead_of(self, task: SimTask) -> int | None:
        """Tasks in line before a waiting task, None when it already holds a slot."""
        if task.start is not None or task.modal or task.ended:
            return None
        if self._waiting and self._waiting[-1] == task.id:  # a new task: O(1)
            return len(self._waiting) - 1
        return self._waiting.index(task.id) if task.id in self._waiting else None

    def advance(self, now: float) -> None:
        """Apply every slot event up to ``now``: finishes, starts and timeouts in the line."""
        while (event := self._next_event()) is not None and event[0] <= now:
            self._cursor = max(self._cursor, event[0])
            event[1](event[0])
        self._cursor = max(self._cursor, now)

    def _next_event(self) -> tuple[float, Callable[[float], None]] | None:
        events: list[tuple[float, Callable[[float], None]]] = []
        if self._running:
            events.append((self._running[0][0], self._finish))
        if self._waiting:
            head = self._tasks[self._waiting[0]]
            events.append((self.deadline(head), self._expire))
            if len(self._running) < self.slots:
                ready = (head.queued or 0.0) + self._config.queue_seconds
                events.append((max(ready, self._cursor), self._start))
        return min(events, key=lambda e: e[0]) if events else None

    def _finish(self, at: float) -> None:
        _, _, task_id = heapq.heappop(self._running)
        self._end(self._tasks[task_id])

    def _expire(self, at: float) -> None:
        self._end(self._tasks[self._waiting.popleft()])

    def _start(self, at: float) -> None:
        task = self._tasks[self._waiting.popleft()]
        task.start = at
        heapq.heappush(self._running, (self.outcome(task)[0], task.seq, task.id))
        self.peak = max(self.peak, len(self._running))
        self.on_change(task)

    def _end(self, task: SimTask) -> None:
        task.ended = True
        self.on_end(task)

    def deadline(self, task: SimTask) -> float:
        """When the gateway gives up on a task."""
        return task.created + self._config.gateway_timeout

    def outcome(self, task: SimTask) -> tuple[float, str | None]:
        """When a started (or expired) task ends, and its failReason (None for SUCCESS)."""
        natural = None if task.stall or task.start is None else task.start + self.job_seconds
        if natural is None or natural > self.deadline(task):
            return self.deadline(task), TIMEOUT_REASON
        return natural, task.fail_reason

    def status(self, task: SimTask, now: float) -> tuple[str, int]:
        """Return a task's status and progress percentage at ``now``."""
        if task.modal:
            return "MODAL", 0
        if task.start is None:
            done = now >= self.deadline(task)
            return ("FAILURE", 100) if done else (self._blank(task, now, "NOT_START"), 0)
        finish, reason = self.outcome(task)
        if now >= finish:
            return ("FAILURE" if reason else "SUCCESS"), 100
        elapsed = now - task.start
        if elapsed < SUBMITTED_SHARE * self.job_seconds:
            return self._blank(task, now, "SUBMITTED"), 0
        return "IN_PROGRESS", min(99, int(100 * elapsed / self.job_seconds))

    def _blank(self, task: SimTask, now: float, status: str) -> str:
        return "" if now - task.created < self._config.blank_status_seconds else status

    def to_json(self, task: SimTask, now: float, url: Callable[[str], str]) -> dict[str, Any]:
        """Return the wire task object; ``url`` turns a path into an absolute URL."""
        status, progress = self.status(task, now)
        done = status in ("SUCCESS", "FAILURE")
        finish, reason = self.outcome(task)
        body: dict[str, Any] = {
            "id": task.id,
            "action": task.action,
            "customId": "",
            "botType": "MID_JOURNEY",
            "prompt": task.prompt,
            "promptEn": task.prompt,
            "description": "Submit success",
            "state": task.state,
            "submitTime": self.ms(task.created),
            "startTime": self.ms(task.start) if task.start is not None else None,
            "finishTime": self.ms(finish) if done else None,
            "status": status,
            "progress": f"{progress}%",
            "failReason": (reason or "") if status == "FAILURE" else "",
            "imageUrl": None,
            "videoUrl": None,
            "videoUrls": None,
            "buttons": [],
            "properties": task.properties,
        }
        body.update(_results(task, status, now, url))
        return body

    def ms(self, t: float) -> int:
        """Milliseconds since the Unix epoch of a clock time."""
        return int((self._epoch + t) * 1000)

    def restore(self, task: SimTask) -> None:
        """Put back a task read from the world file (last snapshot wins)."""
        self._tasks[task.id] = task

    def rebuild(self, now: float) -> None:
        """Rebuild slots, line and counters from restored tasks, then catch up to ``now``."""
        ordered = sorted(self._tasks.values(), key=lambda t: t.seq)
        for task in ordered:
            if task.start is not None and not task.ended:
                heapq.heappush(self._running, (self.outcome(task)[0], task.seq, task.id))
            elif task.queued is not None and not task.ended and not task.modal:
                self._waiting.append(task.id)
        times = [t for task in ordered for t in (task.start, task.queued) if t is not None]
        self._cursor = min(max(times, default=now), now)
        self._ids = itertools.count(max(map(int, self._tasks), default=FIRST_ID - 1) + 1)
        self._seq = itertools.count(max((t.seq for t in ordered), default=-1) + 1)
        self.advance(now)


def _results(task: SimTask, status: str, now: float, url: Callable[[str], str]) -> dict[str, Any]:
    picture = url(f"/mj/image/{task.id}")
    if status != "SUCCESS":
        still = task.action not in VIDEO_ACTIONS and status != "FAILURE"
        return {"imageUrl": f"{picture}?rand={int(now * 1000) % 1_000_000}"} if still else {}
    buttons = _buttons(button_ids(task))
    if task.action in VIDEO_ACTIONS:
        clips = [url(f"/cdn/{task.id}/{i}.mp4") for i in range(task.batch)]
        return {
            "imageUrl": picture,
            "videoUrl": clips[0],
            "videoUrls": [{"url": c} for c in clips],
            "buttons": buttons,
        }
    return {"imageUrl": picture, "buttons": buttons}


def button_ids(task: SimTask) -> list[str]:
    """Custom ids of a finished task's buttons; like Midjourney's they end in a message hash."""
    tag = uuid.uuid5(uuid.NAMESPACE_URL, f"mjv-simulator/{task.id}")
    if task.action in VIDEO_ACTIONS:
        ups = [f"MJ::JOB::video_virtual_upscale::{i + 1}::{tag}" for i in range(task.batch)]
        return [*ups, f"MJ::JOB::reroll::0::{tag}::SOLO"]
    if task.action == "IMAGINE":
        return [f"MJ::JOB::upsample::{i}::{tag}" for i in range(1, 5)]
    return [f"MJ::CustomZoom::{tag}"] if task.action == "UPSCALE" else []


def _buttons(custom_ids: list[str]) -> list[dict[str, Any]]:
    return [
        {"customId": c, "emoji": "", "label": c.split("::")[2], "type": 2, "style": 2}
        for c in custom_ids
    ]
