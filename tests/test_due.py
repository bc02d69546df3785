"""A poll when a task is due: its end estimated from the progress the provider reports."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from memprovider import Clock

from orchestrator.client import Task
from orchestrator.engine.due import EndEstimate, next_poll, percent
from orchestrator.engine.poller import Poller


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


def test_next_poll_takes_the_first_task_due_within_the_interval_only() -> None:
    first, second, later = EndEstimate(), EndEstimate(), EndEstimate()
    for estimate, ends_at in ((first, 10.05), (second, 10.1), (later, 11.0)):
        estimate.observe(ends_at - 2.0, "20%")
        estimate.observe(ends_at - 1.0, "60%")
    assert next_poll([later, second, first], 10.0, 0.15) == pytest.approx(0.055)
    after = next_poll([later, second, first], 10.055, 0.15)  # the first one is not offered again
    assert after == pytest.approx(0.05)
    assert next_poll([later, second, first], 10.105, 0.15) == 0.15  # nothing due in the interval


def test_no_extra_poll_when_the_interval_comes_nearly_as_soon() -> None:
    end = EndEstimate()
    end.observe(0.0, "10%")
    end.observe(1.0, "50%")  # due at 2.255
    assert next_poll([end], 2.24, 0.02) == 0.02  # the interval's poll is 5 ms after it
    assert next_poll([end], 2.2, 0.15) == pytest.approx(0.055)  # 95 ms before it: worth it


def test_a_due_estimate_in_the_past_polls_at_once() -> None:
    end = EndEstimate()
    end.observe(0.0, "10%")
    end.observe(1.0, "50%")
    assert next_poll([end], 5.0, 0.15) == 0.0


def _task(task_id: str, status: str, progress: str) -> Task:
    return Task(task_id, "VIDEO", status, progress, None, None, None, (), ())


def test_the_poller_sees_a_task_end_when_it_is_due_not_at_the_next_interval() -> None:
    clock = Clock()
    started, seconds, interval = clock.now, 3.07, 0.15
    asked: list[float] = []

    async def list_tasks(ids: Sequence[str]) -> list[Task]:
        asked.append(clock.now)
        elapsed = clock.now - started
        if elapsed >= seconds:
            return [_task(ids[0], "SUCCESS", "100%")]
        return [_task(ids[0], "IN_PROGRESS", _progress(elapsed, seconds))]

    async def fetch_task(task_id: str) -> Task:
        raise AssertionError("the list answers for every task")

    async def no_throttle() -> None:
        return None

    async def scenario() -> float:
        poller = Poller(
            list_tasks,
            fetch_task,
            interval=interval,
            task_timeout=60.0,
            throttle=no_throttle,
            clock=clock,
            sleep=clock.sleep,
        )
        running = asyncio.ensure_future(poller.run())
        try:
            await poller.watch("1")
        finally:
            running.cancel()
        return clock.now - started

    seen = asyncio.run(scenario())
    # The interval alone would see it at 3.15; the estimate may be late by about a point.
    assert seconds <= seen < seconds + 0.04
    regular = int(seconds / interval) + 1
    assert len(asked) <= regular + 1  # one poll more than the interval's, at most
