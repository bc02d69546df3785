"""The budget never strands a chain: a chain's whole price is held before it starts.

On the in-memory provider and a virtual clock. Unknown prices stay unknown: a run with a cap
does not start what it cannot price, and one without says how many it paid at an unknown price.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from pathlib import Path

from memprovider import Clock, MemoryProvider
from runsupport import write

from orchestrator.commands.run import summarise
from orchestrator.commands.status import render
from orchestrator.engine.context import RunConfig, RunReport, Runtime
from orchestrator.engine.manifest import build_manifest
from orchestrator.engine.progress import make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.engine.status import campaign_status
from orchestrator.simulator import SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import open_store

SPEC = """\
version: 1
campaign: budget
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4]}
    extend: [{prompt: "one"}, {prompt: "two"}]
"""
CONFIG = RunConfig(concurrency=4, poll_interval=3.0)


class _Events:
    """A progress that keeps its events (the run's lines before anything is sent)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def update(self, snap: object) -> None:
        """Nothing to draw."""

    def close(self, snap: object) -> None:
        """Nothing to close."""

    def event(self, kind: str, **fields: object) -> None:
        self.events.append((kind, fields))


def _run(
    tmp_path: Path, config: RunConfig, text: str = SPEC, progress: object = None
) -> tuple[RunReport, MemoryProvider]:
    clock = Clock()
    provider = MemoryProvider(SimulatorConfig(job_seconds=60, slots=4), clock)
    campaign = load_campaign(write(tmp_path / "c.yaml", text))

    async def go() -> RunReport:
        with open_store(tmp_path / "state.db", campaign.name, clock=clock) as store:
            shown = progress or make_progress(io.StringIO(), quiet=True, json_log=False)
            runtime = Runtime(
                provider,  # type: ignore[arg-type]
                store,
                shown,  # type: ignore[arg-type]
                campaign.output_dir,
                clock=clock,
                wall=clock,
                sleep=clock.sleep,
            )
            return await run_campaign(campaign, runtime, config, free_space=lambda _: 1 << 40)

    return asyncio.run(go()), provider


def _chains(tmp_path: Path) -> dict[str, list[str]]:
    with open_store(tmp_path / "state.db", "budget") as store:
        chains: dict[str, list[str]] = {}
        for sub in sorted(store.submissions(), key=lambda s: s.step):
            chains.setdefault(sub.job, []).append(sub.status)
        return chains


def test_a_cap_runs_only_whole_chains_and_says_so_before_sending(tmp_path: Path) -> None:
    progress = _Events()
    report, provider = _run(tmp_path, replace(CONFIG, max_cost=4.0), progress=progress)
    # Each chain is 3 submissions at 0.6: two fit in 4.0, a third would need 1.80 of 0.40.
    assert report.count("done") == 2 and report.count("blocked") == 2
    assert report.spent == 3.6 and report.submitted == 6
    blocked = [o.reason or "" for o in report.outcomes if o.status == "blocked"]
    assert all(
        "its chain needs 1.80 USD, 0.40 USD left under the cap of 4 USD" in r for r in blocked
    )
    # No chain was left half-extended: each is wholly downloaded or wholly untouched.
    assert sorted(map(tuple, _chains(tmp_path).values())) == [
        ("downloaded",) * 3,
        ("downloaded",) * 3,
        ("pending",) * 3,
        ("pending",) * 3,
    ]
    kind, fields = progress.events[0]  # before the first submission
    assert kind == "budget" and "7.20" in str(fields["note"]) and "4" in str(fields["note"])
    out = io.StringIO()
    summarise(report, load_campaign(tmp_path / "c.yaml"), out)
    assert "budget: the known cost of this run, 7.20 USD" in out.getvalue()
    assert len([s for s in provider.fake.ledger.submits if s.charged]) == 6


def test_a_cap_that_fits_everything_says_nothing(tmp_path: Path) -> None:
    progress = _Events()
    report, _ = _run(tmp_path, replace(CONFIG, max_cost=7.2), progress=progress)
    assert report.count("done") == 4 and report.spent == 7.2 and report.budget_note is None
    assert "budget" not in [kind for kind, _ in progress.events]


def test_a_cap_never_starts_a_chain_of_unknown_price(tmp_path: Path) -> None:
    text = SPEC.replace("    images: [a]\n", "    images: [a]\n    mode: relax\n")
    report, provider = _run(tmp_path, replace(CONFIG, max_cost=100.0), text)
    assert report.count("blocked") == 4 and report.submitted == 0
    assert provider.fake.submit_requests == 0
    assert "no known price" in (report.budget_note or "")


def test_submissions_of_unknown_price_are_counted_never_free(tmp_path: Path) -> None:
    text = SPEC.replace("    images: [a]\n", "    images: [a]\n    mode: relax\n")
    report, _ = _run(tmp_path, CONFIG, text)
    assert report.count("done") == 4 and report.spent == 0 and report.unpriced == 12
    out = io.StringIO()
    summarise(report, load_campaign(tmp_path / "c.yaml"), out)
    assert "spent 0.00 USD and 12 of unknown price in this run" in out.getvalue()


def test_status_and_manifest_count_the_submissions_of_unknown_price(tmp_path: Path) -> None:
    text = SPEC.replace("    images: [a]\n", "    images: [a]\n    mode: relax\n")
    _run(tmp_path, CONFIG, text)
    campaign = load_campaign(tmp_path / "c.yaml")
    with open_store(tmp_path / "state.db", campaign.name) as store:
        status = campaign_status(campaign, store)
        manifest = build_manifest(campaign, store)
    assert status.spent == 0 and status.unpriced == 12
    assert "spent 0.00 USD and 12 submissions of unknown price" in render(status)
    assert manifest.totals.spent == 0 and manifest.totals.unpriced_submissions == 12
    assert manifest.to_json()["totals"]["unpriced_submissions"] == 12
