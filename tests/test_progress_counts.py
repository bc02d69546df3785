"""Progress a person can read: counts that add up at every moment, through a real engine run
on the in-memory provider; the live line's fields, ETA and colours; already-done jobs summed."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from memprovider import Clock, MemoryProvider
from runsupport import write

from orchestrator import console
from orchestrator.engine.context import RunConfig, RunReport, Runtime
from orchestrator.engine.progress import Snapshot, TtyProgress, make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.simulator import SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import open_store

SPEC = """\
version: 1
campaign: counts
pricing: {currency: credits, fast: 2, imagine: 0.1, upscale: 0.1}
images:
  a: {url: "https://cdn.example.com/a.png"}
  still: {imagine: "a castle", pick: 2}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
    extend: [{prompt: "keep going"}]
  - name: castle
    images: [still]
    prompts: [p]
    vars: {n: 0}
"""


class Recorder:
    """A Progress that keeps every snapshot and event."""

    def __init__(self) -> None:
        self.snaps: list[Snapshot] = []
        self.events: list[tuple[str, dict[str, object]]] = []

    def update(self, snap: Snapshot) -> None:
        self.snaps.append(snap)

    def event(self, kind: str, **fields: object) -> None:
        self.events.append((kind, fields))

    def close(self, snap: Snapshot) -> None:
        self.snaps.append(snap)


def _run(tmp_path: Path, progress: Recorder, clock: Clock) -> RunReport:
    campaign = load_campaign(write(tmp_path / "c.yaml", SPEC))
    provider = MemoryProvider(SimulatorConfig(job_seconds=60, slots=2), clock)

    async def go() -> RunReport:
        with open_store(tmp_path / "state.db", campaign.name, clock=clock) as store:
            runtime = Runtime(
                provider,  # type: ignore[arg-type]
                store,
                progress,
                campaign.output_dir,
                clock=clock,
                wall=clock,
                sleep=clock.sleep,
            )
            config = RunConfig(concurrency=2, poll_interval=3.0)
            return await run_campaign(campaign, runtime, config, free_space=lambda _: 1 << 40)

    return asyncio.run(go())


def test_counts_add_up_at_every_moment_and_show_running_jobs(tmp_path: Path) -> None:
    progress = Recorder()
    report = _run(tmp_path, progress, Clock())
    assert report.count("done") == 11
    assert len(progress.snaps) >= 2 * 11  # one when each job starts, one when it ends
    for snap in progress.snaps:
        parts = snap.done + snap.failed + snap.unfinished + snap.in_flight + snap.queued
        assert parts == snap.total == 11, snap
        assert min(snap.done, snap.in_flight, snap.queued, snap.failed) >= 0, snap
        assert snap.currency == "credits"
    # While work is left, some job is shown in flight (never "0 in flight" mid-run).
    middle = [s for s in progress.snaps if 0 < s.done < 11]
    assert middle and all(s.in_flight > 0 for s in middle)
    assert any(s.queued > 0 for s in middle)
    assert progress.snaps[-1].done == 11 and progress.snaps[-1].in_flight == 0


def test_every_paid_submission_is_logged_extensions_and_stills_too(tmp_path: Path) -> None:
    progress = Recorder()
    _run(tmp_path, progress, Clock())
    submitted = [str(fields["what"]) for kind, fields in progress.events if kind == "submitted"]
    assert sum("extension 1" in what for what in submitted) == 10
    assert sum(what.startswith("job ") and "extension" not in what for what in submitted) == 11
    assert any("imagine" in what for what in submitted), submitted
    assert any("upscale" in what for what in submitted), submitted


def test_jobs_done_before_the_run_are_summed_up_in_one_line(tmp_path: Path) -> None:
    clock = Clock()
    _run(tmp_path, Recorder(), clock)
    again = Recorder()
    _run(tmp_path, again, clock)
    kinds = [kind for kind, _ in again.events]
    assert "done" not in kinds
    assert again.events == [("already_done", {"jobs": 11})]
    assert again.snaps[-1].already_done == 11 and again.snaps[-1].done == 11


def test_the_live_line_shows_every_count_the_unit_and_an_eta_from_the_pace() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = TtyProgress(stream, clock)
    clock.now += 120  # four jobs ended in two minutes (2 done, 2 not finished), six left
    progress.update(Snapshot(10, 2, 2, 0, 4.0, 2.0, queued=4, unfinished=2, currency="credits"))
    line = stream.getvalue().rsplit(console.CLEAR_LINE, 1)[1]
    assert line == (
        "mjv: 2/10 done · 2 in flight · 4 queued · 0 failed · 2 not finished · "
        "spent 4.00 credits (+2.00 credits reserved) · ETA 3m00s"
    )


def test_already_done_jobs_do_not_count_toward_the_pace() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = TtyProgress(stream, clock)
    clock.now += 60
    progress.update(Snapshot(10, 8, 2, 0, 0.0, queued=0, already_done=8))
    assert stream.getvalue().endswith("ETA ?")  # nothing finished by this run yet


def test_colour_unless_no_color_and_only_on_a_terminal() -> None:
    tty = TtyStream()
    assert console.colour_wanted(tty, {})
    assert not console.colour_wanted(tty, {"NO_COLOR": "1"})
    assert not console.colour_wanted(tty, {"TERM": "dumb"})
    assert not console.colour_wanted(io.StringIO(), {})
    progress = TtyProgress(tty, FakeClock(), colour=True)
    progress.update(Snapshot(3, 1, 1, 1, 0.6, queued=0))
    progress.event("failed", job="x", reason="denied")
    out = tty.getvalue()
    assert "\x1b[32m1/3 done\x1b[0m" in out and "\x1b[31m1 failed\x1b[0m" in out
    assert "\x1b[31mmjv: failed job=x reason=denied\x1b[0m\n" in out
    plain = TtyStream()
    TtyProgress(plain, FakeClock(), colour=False).update(Snapshot(3, 1, 1, 1, 0.6))
    assert "\x1b[3" not in plain.getvalue()


def test_make_progress_on_a_terminal_honours_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stream = TtyStream()
    make_progress(stream, quiet=False, json_log=False).update(Snapshot(2, 1, 1, 0, 0.0))
    assert "\x1b[3" not in stream.getvalue()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm")
    stream = TtyStream()
    make_progress(stream, quiet=False, json_log=False).update(Snapshot(2, 1, 1, 0, 0.0))
    assert "\x1b[32m" in stream.getvalue()


def test_quiet_prints_problems_and_the_summary_only() -> None:
    stream = io.StringIO()
    progress = make_progress(stream, quiet=True, json_log=False)
    progress.event("submitted", what="job a", task="1")
    progress.event("done", job="a")
    progress.event("blocked", job="b", reason="over the cap")
    progress.update(Snapshot(2, 1, 0, 0, 0.6, queued=0, unfinished=1, currency="USD"))
    progress.close(Snapshot(2, 1, 0, 0, 0.6, queued=0, unfinished=1, currency="USD"))
    assert stream.getvalue().splitlines() == [
        'mjv: blocked job=b reason="over the cap"',
        "mjv: 1/2 done, 0 in flight, 0 failed, 1 not finished, spent 0.60 USD",
    ]


def test_eta_and_durations() -> None:
    assert console.eta_seconds(0, 0, 0.0) == 0.0
    assert console.eta_seconds(5, 0, 10.0) is None
    assert console.eta_seconds(6, 3, 90.0) == 180.0
    assert [console.duration(s) for s in (None, 7.4, 250, 3900)] == ["?", "7s", "4m10s", "1h05m"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True
