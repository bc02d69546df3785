"""Helpers for end-to-end run tests: a fast simulator, spec files, and the CLI in-process."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli import main
from orchestrator.client import Client
from orchestrator.engine.context import RunConfig, RunReport, Runtime
from orchestrator.engine.progress import make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.model import Campaign
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.state import open_state, open_store
from orchestrator.state.records import Attempt

FAST = ("--poll-interval", "0.02", "--max-rps", "1000")
KEY = "sk-simulator"


@dataclass
class Result:
    """Exit code and output of one CLI call."""

    code: int
    out: str
    err: str


def mjv(*argv: str) -> Result:
    """Run the CLI in-process."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return Result(code, out.getvalue(), err.getvalue())


def run_spec(sim: Simulator, spec: Path, *extra: str, verb: str = "run") -> Result:
    """`mjv run` of ``spec`` against ``sim`` with fast polling."""
    return mjv(verb, str(spec), "--base-url", sim.base_url, *FAST, *extra)


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A simulator whose tasks finish in 50 ms, with MJV_API_KEY set to its key."""
    monkeypatch.setenv("MJV_API_KEY", KEY)
    with Simulator(SimulatorConfig(job_seconds=0.05, slots=4)) as sim:
        yield sim


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def manifest(spec: Path, campaign: str) -> dict[str, Any]:
    """The manifest a run of ``spec`` wrote."""
    data: dict[str, Any] = json.loads(
        (spec.parent / "out" / campaign / "manifest.json").read_text()
    )
    return data


def charged(sim: Simulator) -> Mapping[str, int]:
    """Charged submissions per idempotency key."""
    return sim.accepted_submissions()


def run_engine(campaign: Campaign, client: Client, state: Path, config: RunConfig) -> RunReport:
    """Run ``campaign`` through the library API (no CLI), with a silent progress display."""

    async def go() -> RunReport:
        async with client:
            with open_store(state, campaign.name) as store:
                progress = make_progress(io.StringIO(), quiet=True, json_log=False)
                runtime = Runtime(client, store, progress, campaign.output_dir)
                return await run_campaign(campaign, runtime, config)

    return asyncio.run(go())


def subprocess_env(sim: Simulator) -> dict[str, str]:
    """Environment for an `mjv` child process talking to ``sim``."""
    env = dict(os.environ, MJV_API_KEY=KEY, MJV_BASE_URL=sim.base_url, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def assert_state_accounts_for_every_charge(
    sim: Simulator, state: Path | str, campaign: str
) -> None:
    """The state never under-reports: what it recorded as charged, plus what it holds as
    possibly charged (sends whose answer was lost), is exactly what the provider charged;
    less only the refunds of tasks whose id never reached the state (a lost answer's task
    that then failed: the provider refunded what the state still holds as possibly charged);
    plus only lost sends that never reached the provider (a kill between the intent and the
    request's first byte): the state cannot tell those from a lost answer."""
    with open_state(str(state), campaign, default_path=Path(state)) as store:
        totals = store.totals()
        attempts = [store.attempts(sub.key) for sub in store.submissions()]
    known = {attempt.task_id for tries in attempts for attempt in tries if attempt.task_id}
    unseen = sum(c.amount for c in sim.charges() if c.refund and c.task_id not in known)
    counts = charged(sim)
    never_sent = sum(_lost_before_sending(tries, counts) for tries in attempts)
    recorded = round(totals.spent + totals.reserved, 6)
    assert recorded == pytest.approx(sim.money() + unseen + never_sent), (
        totals,
        sim.money(),
        unseen,
        never_sent,
    )


def _lost_before_sending(attempts: Sequence[Attempt], counts: Mapping[str, int]) -> float:
    """What the state holds for sends the provider never charged: per idempotency key, the
    in-doubt attempts beyond the charges the provider made under that key."""
    held = 0.0
    for key in {a.sent_key for a in attempts if a.sent_key}:
        doubted = [a for a in attempts if a.sent_key == key and a.outcome == "in_doubt"]
        if not doubted:  # nothing possibly charged under this key
            continue
        paid = sum(
            1 for a in attempts if a.sent_key == key and a.outcome != "in_doubt" and a.charged
        )
        extra = paid + len(doubted) - counts.get(key, 0)
        assert 0 <= extra <= len(doubted), (key, counts.get(key, 0), attempts)
        held += sum(a.reserved for a in doubted[:extra])
    return held
