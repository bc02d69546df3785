"""--submit-ahead: jobs beyond the free slots are submitted to wait in the provider's queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from runsupport import KEY, write

from orchestrator.client import Client
from orchestrator.engine.context import RunConfig, Runtime
from orchestrator.engine.progress import Snapshot
from orchestrator.engine.runner import run_campaign
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import open_store

SPEC = """\
version: 1
campaign: ahead
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  p: "slow orbit"
jobs:
  - {name: "{{ image }}", images: [a, b], prompts: [p]}
"""


class Quiet:
    """A progress display that shows nothing."""

    def update(self, snap: Snapshot) -> None:
        """Nothing to show."""

    def close(self, snap: Snapshot) -> None:
        """Nothing to show."""

    def event(self, kind: str, **fields: object) -> None:
        """Nothing to show."""


def _polls(sim: Simulator) -> int:
    return sum(n for route, n in sim.requests_by_route().items() if "list-by-condition" in route)


async def _stop_after_polls(sim: Simulator, stop: asyncio.Event, polls: int) -> None:
    while _polls(sim) < polls:
        await asyncio.sleep(0.01)
    stop.set()


def _submissions_while_the_first_job_runs(tmp_path: Path, submit_ahead: int) -> int:
    """Submissions made while the first job (60 s long) runs: the run stops after 5 polls."""
    campaign = load_campaign(write(tmp_path / "ahead.yaml", SPEC))
    config = RunConfig(concurrency=1, max_rps=1000, poll_interval=0.02, submit_ahead=submit_ahead)

    async def go() -> None:
        stop = asyncio.Event()
        stopper = asyncio.ensure_future(_stop_after_polls(sim, stop, 5))
        async with Client(KEY, sim.base_url) as client:
            with open_store(tmp_path / "state.db", campaign.name) as store:
                runtime = Runtime(client, store, Quiet(), campaign.output_dir)
                report = await run_campaign(campaign, runtime, config, stop)
        await stopper
        assert report.interrupted and report.count("done") == 0

    with Simulator(SimulatorConfig(job_seconds=60.0, slots=1, api_key=KEY)) as sim:
        asyncio.run(go())
        return sim.submit_requests()


@pytest.mark.parametrize("ahead", [0, 1])
def test_submit_ahead_submits_that_many_jobs_beyond_the_slots(tmp_path: Path, ahead: int) -> None:
    assert _submissions_while_the_first_job_runs(tmp_path, ahead) == 1 + ahead
