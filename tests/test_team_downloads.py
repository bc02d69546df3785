"""Runners sharing a state and an output folder download and check each clip once: a runner
that waited for a job another runner ran waits for its clips to be saved, then verifies them,
and leaves their checks to that runner unless it builds on them."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path
from typing import Any

import pytest
from memprovider import Clock, MemoryProvider
from runsupport import write

from orchestrator.engine.context import RunConfig, RunReport, Runtime
from orchestrator.engine.progress import make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.qc import takes
from orchestrator.qc.rules import QcResult
from orchestrator.simulator import SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import Status, open_store

SPEC = """\
version: 1
campaign: team
defaults:
  qc: {enabled: QC}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4, 5, 6]}EXTEND
"""


def _team(
    tmp_path: Path,
    runners: int,
    *,
    qc: bool = False,
    extend: bool = False,
) -> list[RunReport]:
    """``runners`` runs of one campaign at once, on one state file and one output folder."""
    text = SPEC.replace("QC", str(qc).lower())
    text = text.replace("EXTEND", '\n    extend: [{prompt: "on"}]' if extend else "")
    campaign = load_campaign(write(tmp_path / "c.yaml", text))
    clock = Clock()
    provider = MemoryProvider(SimulatorConfig(job_seconds=30, slots=3), clock)
    # Leases renew on real time: on the virtual clock they must outlast the whole run.
    config = RunConfig(concurrency=3, poll_interval=3.0, lease_seconds=1e6)

    async def one(number: int) -> RunReport:
        with open_store(tmp_path / "state.db", campaign.name, clock=clock) as store:
            runtime = Runtime(
                provider,  # type: ignore[arg-type]
                store,
                make_progress(io.StringIO(), quiet=True, json_log=False),
                campaign.output_dir,
                owner=f"runner{number}:1:x",  # no such process is dead: leases never expire
                clock=clock,
                wall=clock,
                sleep=clock.sleep,
            )
            return await run_campaign(campaign, runtime, config, free_space=lambda _: 1 << 40)

    async def all_of_them() -> list[RunReport]:
        return list(await asyncio.gather(*(one(n) for n in range(runners))))

    reports = asyncio.run(all_of_them())
    with open_store(tmp_path / "state.db", campaign.name, clock=clock) as store:
        assert {sub.status for sub in store.submissions() if sub.step == 0} == {Status.DOWNLOADED}
    return reports


def test_runners_sharing_a_folder_download_each_clip_once(tmp_path: Path) -> None:
    reports = _team(tmp_path, 3)
    assert all(report.count("done") == 6 for report in reports)
    assert sum(report.submitted for report in reports) == 6
    assert sum(report.downloaded for report in reports) == 6
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.mp4")) == ["clip-0.mp4"] * 6
    assert not list((tmp_path / "out").rglob("versions"))


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every clip check made, as (job folder, clip name)."""
    made: list[tuple[str, str]] = []
    lock, check = threading.Lock(), takes._check

    def counted(job: Any, step: int, folder: Path, name: str) -> Any:
        with lock:
            made.append((folder.name, name))
        return check(job, step, folder, name)

    monkeypatch.setattr(takes, "_check", counted)
    return made


def test_a_runner_leaves_the_checks_of_clips_it_waited_for_to_their_maker(
    tmp_path: Path, checks: list[tuple[str, str]]
) -> None:
    reports = _team(tmp_path, 3, qc=True)
    assert all(report.count("done") == 6 for report in reports)
    assert len(checks) == len(set(checks)) == 6


def test_a_runner_checks_a_clip_it_extends_even_when_another_made_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every base clip fails its check: no runner may extend one, whoever made it.
    failed = QcResult(False, ("too dark",), {})
    monkeypatch.setattr(takes, "_check", lambda *_: failed)
    reports = _team(tmp_path, 3, qc=True, extend=True)
    assert all(report.count("blocked") == 6 for report in reports)
    assert sum(report.submitted for report in reports) == 6  # the base clips only
