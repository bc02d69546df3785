"""The poller's cadence: a tick every interval from the start of the one before."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from orchestrator.engine.poller import Poller
from orchestrator.wire import Task, parse_task


class _Provider:
    """Answers list-by-condition after ``answer_seconds`` of virtual time; the task ends at
    the ``ends_at``-th poll."""

    def __init__(self, answer_seconds: float, ends_at: int) -> None:
        self.now = 0.0
        self.answer_seconds = answer_seconds
        self.ends_at = ends_at
        self.polled_at: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    async def list_tasks(self, ids: Sequence[str]) -> list[Task]:
        self.polled_at.append(self.now)
        await self.sleep(self.answer_seconds)
        status = "SUCCESS" if len(self.polled_at) >= self.ends_at else "IN_PROGRESS"
        return [parse_task({"id": task_id, "status": status}) for task_id in ids]

    async def fetch_task(self, task_id: str) -> Task:
        raise AssertionError("every watched task is in each answer")


async def _polls(answer_seconds: float, ends_at: int) -> list[float]:
    provider = _Provider(answer_seconds, ends_at)

    async def throttle() -> None:
        return None

    poller = Poller(
        provider.list_tasks,
        provider.fetch_task,
        interval=1.0,
        task_timeout=1_000.0,
        throttle=throttle,
        clock=provider.clock,
        sleep=provider.sleep,
    )
    running = asyncio.ensure_future(poller.run())
    task = await poller.watch("1")
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert task.status == "SUCCESS"
    return provider.polled_at


def test_a_slow_answer_does_not_stretch_the_cadence() -> None:
    # Each answer takes 0.4 s: polls still start a second apart, not 1.4 s.
    assert asyncio.run(_polls(0.4, ends_at=4)) == [1.0, 2.0, 3.0, 4.0]


def test_a_tick_longer_than_the_interval_is_followed_by_as_long_a_pause() -> None:
    # A 2.5 s answer (a slow provider, or a busy event loop): polls at most half the time,
    # never one right after the other to catch up.
    assert asyncio.run(_polls(2.5, ends_at=3)) == [1.0, 6.0, 11.0]


def test_a_tick_of_more_than_half_the_interval_stretches_the_cadence() -> None:
    assert asyncio.run(_polls(0.75, ends_at=3)) == [1.0, 2.5, 4.0]
