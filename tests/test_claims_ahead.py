"""A run claims only a few jobs more than the slots it holds (``ClaimsAhead``), so the rest of
a shared campaign stays free for the runners whose slots free up."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from runsupport import KEY, charged, run_engine, write

from orchestrator.client import Client
from orchestrator.engine.account import CLAIMS_AHEAD, ClaimsAhead
from orchestrator.engine.context import RunConfig
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state.sql_store import SqlStore

SPEC = """\
version: 1
campaign: ahead
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  orbit: "slow orbit, {{ mood }} light"
jobs:
  - name: "{{ image }}-{{ mood }}"
    images: [a, b]
    prompts: [orbit]
    matrix: {mood: [warm, cold, grey, gold, blue, pink]}
"""


def test_a_job_waits_for_room_before_its_claim_and_leaves_once() -> None:
    async def go() -> None:
        free = [0]  # the slots free now: none
        ahead = ClaimsAhead(lambda: free[0], 2)
        await ahead.join("a")
        await ahead.join("a")  # the same key counts once
        await ahead.join("b")
        third = asyncio.ensure_future(ahead.join("c"))
        await asyncio.sleep(0)
        assert not third.done()  # two wait for a slot already
        ahead.leave("unknown")  # not counted: frees nothing
        await asyncio.sleep(0)
        assert not third.done()
        ahead.leave("a")
        await asyncio.wait_for(third, 1)
        ahead.leave("a")  # left already: frees nothing more
        fourth = asyncio.ensure_future(ahead.join("d"))
        await asyncio.sleep(0)
        assert not fourth.done()
        free[0] = 4  # slots free: as many claims as they take at once
        await ahead.join("e")
        await ahead.join("f")
        third_over = asyncio.ensure_future(ahead.join("g"))  # b, c, e, f claimed: 4
        await asyncio.sleep(0)
        assert not third_over.done()
        fourth.cancel()
        third_over.cancel()

    asyncio.run(go())


def test_a_run_never_holds_more_claims_than_its_slots_and_the_few_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12 jobs, 2 slots: the run has 6 workers, and each used to claim its job at once.
    concurrency = 2
    waiting = {"now": 0, "most": 0}
    lock = threading.Lock()
    claim, intent = SqlStore.claim, SqlStore.record_intent

    def counting_claim(self: SqlStore, *args: Any, **kwargs: Any) -> bool:
        taken = claim(self, *args, **kwargs)
        with lock:
            waiting["now"] += taken
            waiting["most"] = max(waiting["most"], waiting["now"])
        return taken

    def counting_intent(self: SqlStore, *args: Any, **kwargs: Any) -> int:
        with lock:
            waiting["now"] -= 1  # sent: no longer waiting for a slot
        return intent(self, *args, **kwargs)

    monkeypatch.setattr(SqlStore, "claim", counting_claim)
    monkeypatch.setattr(SqlStore, "record_intent", counting_intent)
    spec = write(tmp_path / "c.yaml", SPEC)
    config = RunConfig(concurrency=concurrency, max_rps=1000, poll_interval=0.02)
    sim_config = SimulatorConfig(job_seconds=0.05, slots=concurrency, api_key=KEY)
    with Simulator(sim_config) as sim:
        client = Client(KEY, sim.base_url)
        report = run_engine(load_campaign(spec), client, tmp_path / "state.db", config)
        assert report.submitted == 12 and len(charged(sim)) == 12
    # Claimed and not yet sent: those holding a slot (at most 2) and those waiting for one.
    assert 1 <= waiting["most"] <= concurrency + CLAIMS_AHEAD, waiting
