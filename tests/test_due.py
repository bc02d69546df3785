"""A poll when a task is due: its end estimated from the progress the provider reports."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

import pytest
from memprovider import Clock

from orchestrator.client import Task
from orchestrator.engine.due import EndEstimate, percent
from orchestrator.engine.poller import Poller
from orchestrator.errors import ServerError


def _progress(elapsed: float, seconds: float) -> str:
    """The simulator's rounding: whole points, never 100 % before the end."""
    return f"{min(99, int(100 * elapsed / seconds))}%"


@pytest.mark.parametrize(
    ("text", "value"), [("42%", 42), (" 7% ", 7), ("100%", 100), ("", None), ("n/a", None)]
)
def test_percent_reads_whole_percentages_only(text: str, value: int | None) -> None:
    assert percent(text) == value


def test_no_estimate_before_the_progress_moved_enough() -> None:
    end = EndEstimate()
    end.observe(1.0, "0%")  # not started: says nothing about the rate
    end.observe(1.2, "")
    assert end.due() is None
    end.observe(2.0, "20%")
    end.observe(2.1, "25%")  # 5 points: too few to read a rate from
    assert end.due() is None


@pytest.mark.parametrize("seconds", [3.0, 7.3, 60.0])
@pytest.mark.parametrize("phase", [0.0, 0.037, 0.11])
def test_the_estimate_is_never_before_the_end_and_close_to_it(seconds: float, phase: float) -> None:
    end = EndEstimate()
    step = seconds / 20
    at = phase + step
    while at < seconds:
        end.observe(at, _progress(at, seconds))
        due = end.due()
        if due is not None:
            assert due >= seconds  # the bound holds: no wasted poll before the end
            if at > seconds - step:  # from the last poll before the end
                assert due - seconds < 0.03 * seconds
        at += step


def _task(task_id: str, status: str, progress: str) -> Task:
    return Task(task_id, "VIDEO", status, progress, None, None, None, (), ())


class _Account:
    """Tasks that progress linearly on a virtual clock; every id's poll times are kept."""

    def __init__(self, clock: Clock, lengths: dict[str, float]) -> None:
        self.clock, self.lengths = clock, lengths
        self.started = clock.now
        self.asked: dict[str, list[float]] = {task_id: [] for task_id in lengths}
        self.requests = 0
        self.ended: dict[str, float] = {}  # when a poll first answered a task's end

    async def list_tasks(self, ids: Sequence[str]) -> list[Task]:
        self.requests += 1
        elapsed = self.clock.now - self.started
        for task_id in ids:
            self.asked[task_id].append(self.clock.now)
        return [self._task(task_id, elapsed) for task_id in ids]

    def _task(self, task_id: str, elapsed: float) -> Task:
        seconds = self.lengths[task_id]
        if elapsed >= seconds:
            self.ended.setdefault(task_id, elapsed)
            return _task(task_id, "SUCCESS", "100%")
        return _task(task_id, "IN_PROGRESS", _progress(elapsed, seconds))

    def seen(self, interval: float) -> dict[str, float]:
        """How long after its start each task's end was seen, with a poller at ``interval``."""

        async def fetch_task(task_id: str) -> Task:
            raise AssertionError("the list answers for every task")

        async def no_throttle() -> None:
            return None

        async def scenario() -> None:
            poller = Poller(
                self.list_tasks,
                fetch_task,
                interval=interval,
                task_timeout=600.0,
                throttle=no_throttle,
                clock=self.clock,
                sleep=self.clock.sleep,
            )
            running = asyncio.ensure_future(poller.run())
            try:
                await asyncio.gather(*(poller.watch(task_id) for task_id in self.lengths))
            finally:
                running.cancel()

        asyncio.run(scenario())
        return self.ended


def test_the_poller_sees_a_task_end_when_it_is_due_not_at_the_next_interval() -> None:
    seconds, interval = 3.07, 0.15
    account = _Account(Clock(), {"1": seconds})
    seen = account.seen(interval)["1"]
    # The interval alone would see it at 3.15; the estimate may be late by about a point.
    assert seconds <= seen < seconds + 0.04
    regular = int(seconds / interval) + 1
    assert len(account.asked["1"]) <= regular  # set aside from one tick: no poll more


def test_no_task_is_asked_for_sooner_than_the_interval_after_its_last_poll() -> None:
    # Ten tasks of lengths that end between ticks, at an interval of 3 s (API.md's floor).
    lengths = {str(n): 40.0 + 1.37 * n for n in range(10)}
    account = _Account(Clock(), lengths)
    seen = account.seen(3.0)
    for task_id, times in account.asked.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert min(gaps) >= 3.0 - 1e-9, (task_id, gaps)
        assert lengths[task_id] <= seen[task_id] < lengths[task_id] + 3.0
    # Most ends are seen soon after they happen, not up to an interval later.
    late = sorted(seen[task_id] - lengths[task_id] for task_id in lengths)
    assert late[len(late) // 2] < 0.5
    ticks = max(seen.values()) / 3.0 + 1
    assert account.requests <= ticks + len(lengths)  # one request more per task at most


def test_no_poll_of_its_own_when_the_next_tick_comes_nearly_as_soon() -> None:
    # At a 20 ms interval a poll set aside would gain less than MIN_GAIN: none is made.
    account = _Account(Clock(), {"1": 0.5, "2": 0.53})
    account.seen(0.02)
    ticks = account.asked["1"]
    assert account.requests == len(account.asked["2"])  # every request asked for both
    assert len(ticks) <= int(0.5 / 0.02) + 2


def test_a_tick_that_asks_nothing_does_not_reset_a_stopped_runs_patience() -> None:
    # The provider stops answering from 2.8 s; the tick at 3.0 s asks nothing (the task is set
    # aside until it is due), which must not count as an answer.
    clock, seconds, interval = Clock(), 3.07, 0.15
    started = clock.now
    account = _Account(clock, {"1": seconds})

    async def list_tasks(ids: Sequence[str]) -> list[Task]:
        if clock.now - started >= 2.8:
            raise ServerError("502 from the gateway")
        return await account.list_tasks(ids)

    async def fetch_task(task_id: str) -> Task:
        raise ServerError("502 from the gateway")

    async def no_throttle() -> None:
        return None

    async def scenario() -> float:
        poller = Poller(
            list_tasks,
            fetch_task,
            interval=interval,
            task_timeout=600.0,
            throttle=no_throttle,
            clock=clock,
            sleep=clock.sleep,
        )
        poller.give_up_after(3)
        running = asyncio.ensure_future(poller.run())
        try:
            with pytest.raises(ServerError):
                await poller.watch("1")
        finally:
            running.cancel()
        return clock.now - started

    gave_up = asyncio.run(scenario())
    # Unanswered polls at 2.85 s, when due (3.08 s) and at 3.3 s: the third ends the wait; the
    # tick at 3.15 s asked nothing (too soon after 3.08 s).
    assert gave_up == pytest.approx(3.3, abs=0.01)
