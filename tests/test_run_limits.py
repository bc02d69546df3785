"""The upstream's user limits and stops that drain: nothing new sent, paid tasks still saved.

On the in-memory provider and a virtual clock (no socket, no real sleep): the simulator's
CoreSize, QueueSize, daily and total draw limits, its quota, and a disk that cannot be written.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
from pathlib import Path
from typing import Any

import pytest
from memprovider import Clock, MemoryProvider, memory_run
from runsupport import write
from simsupport import FakeClock, wire

from orchestrator.commands.run import summarise
from orchestrator.engine import downloads
from orchestrator.engine.context import RunConfig, RunReport
from orchestrator.engine.pacing import AdaptiveSlots
from orchestrator.errors import (
    EXIT_ERROR,
    EXIT_OK,
    AccountBusyError,
    AccountLockedError,
    DrawLimitError,
    ProviderError,
    RefusedError,
)
from orchestrator.simulator import SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import open_store
from orchestrator.wire import refusal_error

SPEC = """\
version: 1
campaign: limits
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4, 5, 6]}
"""
SIX = RunConfig(concurrency=6, poll_interval=3.0)


def _run(tmp_path: Path, provider: MemoryProvider, clock: Clock, config: RunConfig) -> RunReport:
    spec = write(tmp_path / "c.yaml", SPEC)
    return memory_run(spec, provider, clock, config, state=tmp_path / "state.db")


def _exit(tmp_path: Path, report: RunReport) -> tuple[int, str]:
    out = io.StringIO()
    code = summarise(report, load_campaign(tmp_path / "c.yaml"), out)
    return code, out.getvalue()


def _statuses(tmp_path: Path, clock: Clock) -> list[str]:
    with open_store(tmp_path / "state.db", "limits", clock=clock) as store:
        return sorted(sub.status for sub in store.submissions())


def _refused(provider: MemoryProvider) -> int:
    return sum(1 for s in provider.fake.ledger.submits if not s.charged)


@pytest.mark.parametrize("limit", ["core_size", "queue_size"])
def test_a_full_account_backs_off_and_never_fails_a_job(tmp_path: Path, limit: str) -> None:
    clock = Clock()
    config = SimulatorConfig(job_seconds=60, slots=1, **{limit: 2})  # type: ignore[arg-type]
    provider = MemoryProvider(config, clock)
    report = _run(tmp_path, provider, clock, SIX)
    assert report.count("done") == 6 and report.count("failed") == 0, report
    assert report.submitted == 6 and report.stopped is None
    assert _refused(provider) > 0  # the limit was met, and answered by waiting


@pytest.mark.parametrize(
    ("limit", "says"),
    [("day_draw_limit", "daily draw limit"), ("total_draw_limit", "total draw limit")],
)
def test_a_draw_limit_stops_the_run_and_saves_what_it_paid_for(
    tmp_path: Path, limit: str, says: str
) -> None:
    clock = Clock()
    config = SimulatorConfig(job_seconds=60, slots=6, **{limit: 3})  # type: ignore[arg-type]
    provider = MemoryProvider(config, clock)
    report = _run(tmp_path, provider, clock, SIX)
    assert says in (report.stopped or "")
    assert report.submitted == 3 and report.downloaded == 3 and report.count("done") == 3
    assert report.count("failed") == 0  # every other job is kept for a later run
    assert _statuses(tmp_path, clock) == ["downloaded"] * 3 + ["pending"] * 3
    assert _refused(provider) == 1  # one refusal, then nothing more was sent
    code, out = _exit(tmp_path, report)
    assert code == EXIT_ERROR
    stops = [line for line in out.splitlines() if line.startswith("run stopped:")]
    assert len(stops) == 1 and says in stops[0] and "(3 clips in this run)" in stops[0]


def test_a_quota_stop_polls_and_downloads_the_tasks_already_paid(tmp_path: Path) -> None:
    clock = Clock()
    provider = MemoryProvider(SimulatorConfig(job_seconds=60, slots=6, credits=3), clock)
    report = _run(tmp_path, provider, clock, SIX)
    assert "quota" in (report.stopped or "")
    assert report.submitted == 3 and report.downloaded == 3 and report.count("done") == 3
    assert len(provider.fake.ledger.submits) == 4  # 3 accepted, 1 refused, then nothing
    # A later run with credit again sends only the rest.
    provider.fake.config = SimulatorConfig(job_seconds=60, slots=6)
    provider.fake._desk.config = provider.fake.config
    again = _run(tmp_path, provider, clock, SIX)
    assert again.submitted == 3 and again.count("done") == 6 and again.stopped is None
    assert _exit(tmp_path, again)[0] == EXIT_OK


def _disk_full_for(monkeypatch: pytest.MonkeyPatch, times: int | None) -> list[Path]:
    """The next ``times`` clip writes (every one with None) fail as on a full disk."""
    failed: list[Path] = []
    real = downloads._make_durable

    def full(
        fd: int,
        temp: Path,
        dest: Path,
        set_aside: downloads.SetAside | None,
        got: downloads.Downloaded,
    ) -> None:
        if times is None or len(failed) < times:
            failed.append(dest)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, temp, dest, set_aside, got)

    monkeypatch.setattr(downloads, "_make_durable", full)
    return failed


class _StillWhileSaving(Clock):
    """Virtual time that stands still from a task's end (its slot freed) until its clip's
    first write: the write runs in a thread, and its real time must not pass as the other
    tasks' virtual minutes (on a busy machine they ended, and more was sent, before it)."""

    def __init__(self) -> None:
        super().__init__()
        self.saving = 0

    async def sleep(self, seconds: float) -> None:
        while self.saving > 0:
            await asyncio.sleep(0.001)
        await super().sleep(seconds)


def _saving_counted(monkeypatch: pytest.MonkeyPatch, clock: _StillWhileSaving) -> None:
    release, make_durable, written = AdaptiveSlots.release, downloads._make_durable, set()

    def released(self: AdaptiveSlots) -> None:
        clock.saving += 1
        release(self)

    def first_write(*args: Any) -> None:
        dest = args[2]
        try:
            make_durable(*args)
        finally:
            if dest not in written:
                written.add(dest)
                clock.saving -= 1

    monkeypatch.setattr(AdaptiveSlots, "release", released)
    monkeypatch.setattr(downloads, "_make_durable", first_write)


def test_a_clip_that_cannot_be_written_stops_paying_and_is_saved_once_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _StillWhileSaving()
    provider = MemoryProvider(SimulatorConfig(job_seconds=60, slots=2), clock)
    failed = _disk_full_for(monkeypatch, times=2)
    _saving_counted(monkeypatch, clock)
    report = _run(tmp_path, provider, clock, RunConfig(concurrency=2, poll_interval=3.0))
    assert len(failed) == 2 and "cannot be saved" in (report.stopped or "")
    # Jobs 1 and 2 finish and free their slots (jobs 3 and 4 are sent), then their clips
    # cannot be written: nothing more is sent, the 4 paid tasks are polled and all saved.
    assert report.submitted == 4 and report.count("done") == 4 and report.count("failed") == 0
    assert report.count("interrupted") == 2
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.mp4")) == ["clip-0.mp4"] * 4
    assert not list((tmp_path / "out").rglob("*.part"))


def test_clips_never_writable_in_a_run_are_saved_by_the_next_without_paying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    provider = MemoryProvider(SimulatorConfig(job_seconds=60, slots=2), clock)
    config = RunConfig(concurrency=2, poll_interval=3.0)
    _disk_full_for(monkeypatch, times=None)
    first = _run(tmp_path, provider, clock, config)
    assert first.submitted == 4 and first.downloaded == 0 and first.count("failed") == 4
    assert "run again once the folder is writable" in str(first.outcomes)
    assert _exit(tmp_path, first)[0] == EXIT_ERROR
    monkeypatch.undo()
    charged = len([s for s in provider.fake.ledger.submits if s.charged])
    second = _run(tmp_path, provider, clock, config)
    assert second.count("done") == 6 and second.downloaded == 6
    # The 4 paid tasks' clips came without a submission; only the 2 jobs never sent were sent.
    assert second.submitted == 2
    assert len([s for s in provider.fake.ledger.submits if s.charged]) == charged + 2


@pytest.mark.parametrize(
    ("message", "kind", "stops"),
    [
        ("并发数已达上限", AccountBusyError, False),
        ("队列数已达上限", AccountBusyError, False),
        ("用户今日绘图次数已达上限", DrawLimitError, True),
        ("总绘图次数已达上限", DrawLimitError, True),
        ("账号已被临时封锁，请勿使用违规词作图", AccountLockedError, True),
        ("something else", RefusedError, False),
    ],
)
def test_http_200_refusals_are_classed_by_meaning(
    message: str, kind: type[ProviderError], stops: bool
) -> None:
    error = refusal_error({"success": False, "code": -1, "message": message})
    assert type(error) is kind and error.stops_run is stops and message in str(error)
    # The account-wide ones are retried (never final); the others are not.
    assert error.retryable is (kind is AccountBusyError)


def test_mjv_simulate_takes_the_user_limits() -> None:
    from orchestrator.cli import build_parser
    from orchestrator.commands.simulate import config_from_args

    argv = ["simulate", "--core-size", "2", "--queue-size", "5", "--day-draw-limit", "40"]
    config = config_from_args(build_parser().parse_args([*argv, "--total-draw-limit", "900"]))
    assert (config.core_size, config.queue_size) == (2, 5)
    assert (config.day_draw_limit, config.total_draw_limit) == (40, 900)
    assert config_from_args(build_parser().parse_args(["simulate"])).core_size is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"core_size": 2}, "并发数已达上限"),
        ({"queue_size": 1, "slots": 1}, "队列数已达上限"),
        ({"day_draw_limit": 2}, "用户今日绘图次数已达上限"),
        ({"total_draw_limit": 2}, "总绘图次数已达上限"),
    ],
)
def test_the_simulator_refuses_past_a_user_limit_and_charges_nothing(
    options: dict[str, int], message: str
) -> None:
    clock = FakeClock()
    with wire(clock, **options) as w:
        w.task_id(w.create(key="k1"))
        w.task_id(w.create(key="k2"))
        refused = w.create(key="k3")
        assert refused.status_code == 200 and refused.json()["success"] is False
        assert refused.json()["message"] == message
        assert len([c for c in w.sim.charges() if not c.refund]) == 2
        if "core_size" not in options and "queue_size" not in options:
            return  # draws stay counted when the tasks end
        clock.now += 100  # both tasks end: the account has room again
        w.task_id(w.create(key="k3"))
