"""What the submitter hands on without reading it back matches the state."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from runsupport import KEY, run_engine, write

from orchestrator.client import Client
from orchestrator.engine.clips import Clips
from orchestrator.engine.context import RunConfig
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import Status, Submission

SPEC = """\
version: 1
campaign: reads
defaults: {mode: fast, motion: low, batch_size: 2}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit, {{ mood }} light"
jobs:
  - name: "a-{{ mood }}"
    images: [a]
    prompts: [orbit]
    matrix: {mood: [warm, cold, grey]}
    extend: [{prompt: "further"}]
"""

_MOVING = ("updated_at", "lease_until")  # stamped by every write and renewal


def test_a_succeeded_step_is_handed_to_its_download_as_the_state_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The submission as recorded is built from the write, not read back after it.
    seen: list[tuple[Submission, Submission | None]] = []
    ensure = Clips.ensure

    async def checking(self: Clips, sub: Submission, *args: Any, **kwargs: Any) -> Any:
        seen.append((sub, await self._store.get(sub.key)))
        return await ensure(self, sub, *args, **kwargs)

    monkeypatch.setattr(Clips, "ensure", checking)
    spec = write(tmp_path / "c.yaml", SPEC)
    config = RunConfig(concurrency=2, max_rps=1000, poll_interval=0.02)
    with Simulator(SimulatorConfig(job_seconds=0.05, slots=2, api_key=KEY)) as sim:
        report = run_engine(
            load_campaign(spec), Client(KEY, sim.base_url), tmp_path / "s.db", config
        )
    assert report.submitted == 6 and len(seen) == 6  # three base clips, three extensions
    for handed, stored in seen:
        assert stored is not None and handed.status == Status.SUCCEEDED
        assert len(handed.clip_urls) == 2
        moving = {name: None for name in _MOVING}
        assert dataclasses.replace(handed, **moving) == dataclasses.replace(stored, **moving)
