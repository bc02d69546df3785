"""The simulated account's tasks: slots, the status state machine, and task objects (no I/O)."""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VIDEO_ACTIONS = frozenset({"VIDEO", "EXTEND"})
SUBMITTED_SHARE = 0.1  # first tenth of a job: SUBMITTED, then IN_PROGRESS


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


class TaskBook:
    """Every task of one account plus its job slots; amortised O(1) work per request."""

    def __init__(self, slots: int, job_seconds: float, epoch: float) -> None:
        self.slots = slots
        self.job_seconds = job_seconds
        self._epoch = epoch  # wall time at clock zero, for the ms timestamps
        self._tasks: dict[str, SimTask] = {}
        self._waiting: deque[str] = deque()
        self._running: list[tuple[float, int, str]] = []  # heap of (finish, seq, id)
        self._ids = itertools.count(1_700_000_000_001)
        self._seq = itertools.count()

    def new_id(self) -> str:
        """Return a fresh task id: a string of digits, like the provider's."""
        return str(next(self._ids))

    def get(self, task_id: str) -> SimTask | None:
        """Return a task by id, or None."""
        return self._tasks.get(task_id)

    def add(self, task: SimTask, now: float) -> None:
        """Register a new task; it waits for a slot unless it waits for a modal answer."""
        self._tasks[task.id] = task
        if not task.modal:
            self.enqueue(task, now)

    def enqueue(self, task: SimTask, now: float) -> None:
        """Put a task in line for a slot."""
        task.modal = False
        self.advance(now)
        self._waiting.append(task.id)
        self._start_waiting(now)

    def advance(self, now: float) -> None:
        """Finish the tasks whose time is up and hand their slots to the next in line."""
        while self._running and self._running[0][0] <= now:
            finished_at, _, _ = heapq.heappop(self._running)
            self._start_waiting(finished_at)

    def _start_waiting(self, at: float) -> None:
        while self._waiting and len(self._running) < self.slots:
            task = self._tasks[self._waiting.popleft()]
            task.start = at
            heapq.heappush(self._running, (at + self.job_seconds, next(self._seq), task.id))

    def status(self, task: SimTask, now: float) -> tuple[str, int]:
        """Return a task's status and progress percentage at ``now``."""
        if task.modal:
            return "MODAL", 0
        if task.start is None:
            return "NOT_START", 0
        elapsed = now - task.start
        if elapsed >= self.job_seconds:
            return ("FAILURE" if task.fail_reason else "SUCCESS"), 100
        if elapsed < SUBMITTED_SHARE * self.job_seconds:
            return "SUBMITTED", 0
        return "IN_PROGRESS", min(99, int(100 * elapsed / self.job_seconds))

    def to_json(self, task: SimTask, now: float, url: Callable[[str], str]) -> dict[str, Any]:
        """Return the wire task object; ``url`` turns a CDN path into an absolute URL."""
        status, progress = self.status(task, now)
        done = status in ("SUCCESS", "FAILURE")
        body: dict[str, Any] = {
            "id": task.id,
            "action": task.action,
            "customId": "",
            "botType": "MID_JOURNEY",
            "prompt": task.prompt,
            "promptEn": task.prompt,
            "description": "Submit success",
            "state": task.state,
            "submitTime": self._ms(task.created),
            "startTime": self._ms(task.start) if task.start is not None else None,
            "finishTime": self._ms(task.start + self.job_seconds)
            if done and task.start is not None
            else None,
            "status": status,
            "progress": f"{progress}%",
            "failReason": task.fail_reason if status == "FAILURE" else "",
            "imageUrl": None,
            "videoUrl": None,
            "videoUrls": None,
            "buttons": [],
            "properties": task.properties,
        }
        if status == "SUCCESS":
            body.update(_results(task, url))
        return body

    def _ms(self, t: float) -> int:
        return int((self._epoch + t) * 1000)


def _results(task: SimTask, url: Callable[[str], str]) -> dict[str, Any]:
    if task.action in VIDEO_ACTIONS:
        clips = [url(f"/cdn/{task.id}/{i}.mp4") for i in range(task.batch)]
        buttons = button_ids(task)
        return {
            "imageUrl": clips[0],
            "videoUrl": clips[0],
            "videoUrls": [{"url": c} for c in clips],
            "buttons": _buttons(buttons),
        }
    if task.action == "IMAGINE":
        return {"imageUrl": url(f"/cdn/{task.id}/grid.png"), "buttons": _buttons(button_ids(task))}
    # An upscale (or a zoom answered through the modal) yields one picture.
    return {"imageUrl": url(f"/cdn/{task.id}/image.png"), "buttons": _buttons(button_ids(task))}


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
