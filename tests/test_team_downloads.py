"""Runners sharing a state and an output folder download each clip once: a runner that waited
for a job another runner ran waits for its clips to be saved, then verifies them."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from memprovider import Clock, MemoryProvider
from runsupport import write

from orchestrator.engine.context import RunConfig, RunReport, Runtime
from orchestrator.engine.progress import make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.simulator import SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import Status, open_store

SPEC = """\
version: 1
campaign: team
defaults:
  qc: {enabled: false}  # the checks run on real threads, which the virtual clock cannot see
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


def _team(tmp_path: Path, runners: int) -> list[RunReport]:
    """``runners`` runs of one campaign at once, on one state file and one output folder."""
    campaign = load_campaign(write(tmp_path / "c.yaml", SPEC))
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
        assert {sub.status for sub in store.submissions() if sub.kind == "video"} == {
            Status.DOWNLOADED
        }
    return reports


def test_runners_sharing_a_folder_download_each_clip_once(tmp_path: Path) -> None:
    reports = _team(tmp_path, 3)
    assert all(report.count("done") == 6 for report in reports)
    assert sum(report.submitted for report in reports) == 6
    assert sum(report.downloaded for report in reports) == 6
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.mp4")) == ["clip-0.mp4"] * 6
    assert not list((tmp_path / "out").rglob("versions"))
