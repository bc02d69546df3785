"""Batched polling: every in-flight task of a run is fetched in one list-by-condition per tick.

No task is asked for sooner than ``interval`` after its last poll (API.md: a floor per task).
A task whose end is due between two ticks (``engine.due``) leaves the first and is asked for
on its own when it is due, so its end is seen then rather than up to an interval later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from orchestrator.client import Task
from orchestrator.engine.due import EndEstimate
from orchestrator.errors import ProviderError, ServerError, TaskNotFoundError, TaskTimeoutError

BATCH = 100  # ids per list-by-condition request
MISSES_BEFORE_FETCH = 3  # list-by-condition silently omits unknown ids; ask for one after this
TOGETHER = 0.005  # seconds: tasks due this close together are asked for in one request

ListTasks = Callable[[Sequence[str]], Awaitable[list[Task]]]
FetchTask = Callable[[str], Awaitable[Task]]


@dataclass
class _Watch:
    future: asyncio.Future[Task]
    started: float
    deadline: float
    on_progress: Callable[[Task], None] | None
    misses: int = 0
    last: str = "not seen yet"  # the last status the provider reported
    seen: set[str] = field(default_factory=set)
    end: EndEstimate = field(default_factory=EndEstimate)  # for a poll when it is due
    asked: float = float("-inf")  # when its last poll was sent
    due: float | None = None  # set aside from the ticks: asked for on its own then

    def free_at(self, interval: float) -> float:
        """When this task may be asked for on its own: when due, and an interval after its
        last poll."""
        return max(self.due or 0.0, self.asked + interval)


class Poller:
    """Resolves one future per watched task id when the task reaches a terminal status."""

    def __init__(
        self,
        list_tasks: ListTasks,
        fetch_task: FetchTask,
        *,
        interval: float,
        task_timeout: float,
        throttle: Callable[[], Awaitable[None]],
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._list = list_tasks
        self._fetch = fetch_task
        self._interval = interval
        self._timeout = task_timeout
        self._throttle = throttle
        self._clock = clock
        self._sleep = sleep
        self._watches: dict[str, _Watch] = {}
        self._wake = asyncio.Event()
        self._patience: int | None = None  # unanswered ticks before giving up (a stopped run)
        self._unanswered = 0

    def give_up_after(self, ticks: int) -> None:
        """From now on, ``ticks`` polls in a row without any answer fail every watch."""
        self._patience = ticks

    def watch(
        self, task_id: str, on_progress: Callable[[Task], None] | None = None
    ) -> asyncio.Future[Task]:
        """Return a future for the terminal state of ``task_id``."""
        future: asyncio.Future[Task] = asyncio.get_running_loop().create_future()
        now = self._clock()
        self._watches[task_id] = _Watch(future, now, now + self._timeout, on_progress)
        self._wake.set()
        return future

    @property
    def watched(self) -> int:
        """Number of tasks being polled."""
        return len(self._watches)

    async def run(self) -> None:
        """Poll forever (cancel to stop), a tick every ``interval`` from the start of the one
        before: a quick answer does not stretch the cadence (at ``--poll-interval 0.02`` it
        had been about 30 ms); tasks set aside are asked for when due, between the ticks.
        Provider errors are left for the next tick."""
        next_tick: float | None = None
        while True:
            if not self._watches:
                self._wake.clear()
                await self._wake.wait()
                next_tick = None  # the first task watched after a pause waits a whole interval
            now = self._clock()
            pause = self._interval if next_tick is None else max(0.0, next_tick - now)
            due = self._first_due()
            if due is not None and due < now + pause:
                await self._sleep(max(0.0, due - now))
                await self._guarded(self.poll_due())
                continue
            await self._sleep(pause)
            started = self._clock()
            await self._guarded(self.tick())
            next_tick = self._after(started)

    async def _guarded(self, polling: Awaitable[None]) -> None:
        try:
            await polling
        except Exception as exc:  # a dead poller would leave every job waiting forever
            self._fail_all(ServerError(f"polling failed: {exc!r}"))

    def _after(self, started: float) -> float:
        """When the tick after the one ``started`` then starts: an interval after it, and
        never sooner after its end than it took. A slow tick (a slow provider, or an event
        loop busy with clip checks) is followed by as long a pause: polls never take over."""
        ended = self._clock()
        return max(started + self._interval, ended + (ended - started))

    async def tick(self) -> None:
        """Poll every watched task once (but those set aside and those asked too recently)."""
        now = self._clock()
        ids = [tid for tid, w in self._watches.items() if self._in_tick(w, now)]
        failure = await self._ask(ids)
        if ids and self._unanswered_too_long(failure):  # a tick that asked nothing says nothing
            return
        await self._fetch_missing()
        self._expire()

    async def poll_due(self) -> None:
        """Ask for the tasks set aside whose end is due now (one request for those together)."""
        now = self._clock()
        ids = [
            tid
            for tid, w in self._watches.items()
            if w.due is not None
            and w.free_at(self._interval) <= now + TOGETHER
            and now >= w.asked + self._interval
        ]
        for task_id in ids:
            self._watches[task_id].due = None  # back to the ticks, whatever the answer
        failure = await self._ask(ids)
        if ids:
            self._unanswered_too_long(failure)

    def _in_tick(self, watch: _Watch, now: float) -> bool:
        """Whether this tick asks for ``watch``; one due before the next tick is set aside."""
        if watch.due is not None or now < watch.asked + self._interval:
            return False
        due = watch.end.pending(now + self._interval)
        if due is None or due <= now:
            return True
        watch.end.take()
        watch.due = due
        return False

    def _first_due(self) -> float | None:
        """When the first task set aside may be asked for (None: none is)."""
        times = [w.free_at(self._interval) for w in self._watches.values() if w.due is not None]
        return min(times, default=None)

    async def _ask(self, ids: Sequence[str]) -> ProviderError | None:
        """List ``ids`` in batches; the last error when no batch was answered after it."""
        failure: ProviderError | None = None
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            await self._throttle()
            sent = self._clock()
            for task_id in chunk:
                if (watch := self._watches.get(task_id)) is not None:
                    watch.asked = sent
            try:
                tasks = await self._list(chunk)
            except ProviderError as exc:
                if exc.stops_run:
                    self._fail_all(exc)
                    return None
                failure = exc
                continue
            self._settle(chunk, tasks)
            failure = None  # one answer is enough: the provider is there
        return failure

    def _unanswered_too_long(self, failure: ProviderError | None) -> bool:
        """Count polls without an answer; past the patience every watch fails with the last."""
        self._unanswered = self._unanswered + 1 if failure is not None else 0
        if failure is None or self._patience is None or self._unanswered < self._patience:
            return False
        self._fail_all(failure)
        return True

    def _settle(self, asked: Sequence[str], tasks: Sequence[Task]) -> None:
        found = {task.id: task for task in tasks}
        for task_id in asked:
            watch = self._watches.get(task_id)
            if watch is None:
                continue
            task = found.get(task_id)
            if task is None:
                watch.misses += 1
            else:
                self._observe(task_id, watch, task)

    def _observe(self, task_id: str, watch: _Watch, task: Task) -> None:
        watch.misses = 0
        watch.last = task.status or "blank"
        watch.end.observe(self._clock(), task.progress)
        if watch.on_progress is not None and task.status not in watch.seen:
            watch.seen.add(task.status)
            watch.on_progress(task)
        if task.terminal or task.status == "MODAL":
            del self._watches[task_id]
            if not watch.future.done():
                watch.future.set_result(task)

    async def _fetch_missing(self) -> None:
        missing = [tid for tid, w in self._watches.items() if w.misses >= MISSES_BEFORE_FETCH]
        for task_id in missing:
            await self._throttle()
            try:
                task = await self._fetch(task_id)
            except TaskNotFoundError as exc:
                self._resolve_error(task_id, exc)
                continue
            except ProviderError:
                continue
            watch = self._watches.get(task_id)
            if watch is not None:
                self._observe(task_id, watch, task)

    def _expire(self) -> None:
        now = self._clock()
        for task_id, watch in list(self._watches.items()):
            if now > watch.deadline:
                waited = now - watch.started
                message = (
                    f"task {task_id} is still {watch.last} at the provider after waiting "
                    f"{waited:.0f} s (task timeout {self._timeout:g} s)"
                )
                self._resolve_error(task_id, TaskTimeoutError(message))

    def _resolve_error(self, task_id: str, exc: BaseException) -> None:
        watch = self._watches.pop(task_id, None)
        if watch is not None and not watch.future.done():
            watch.future.set_exception(exc)

    def _fail_all(self, exc: BaseException) -> None:
        for task_id in list(self._watches):
            self._resolve_error(task_id, exc)
