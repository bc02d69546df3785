"""Costs in view: each plan row's cost, HD priced apart, and `mjv plan --select`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runsupport import mjv, write
from simsupport import FakeClock, wire

from orchestrator.errors import EXIT_USAGE, EXIT_WORK
from orchestrator.plan import build_plan
from orchestrator.simulator.ledger import Charge
from orchestrator.spec import load_campaign

SPEC = """\
version: 1
campaign: costs
{pricing}images:
  a: {{url: "https://cdn.example.com/a.png"}}
prompts:
  p: "slow orbit"
jobs:
  - {{name: sd, images: [a], prompts: [p], extend: [{{prompt: "more"}}]}}
  - {{name: hd, images: [a], prompts: [p], video_type: vid_1.1_i2v_720}}
  - {{name: turbo-hd, images: [a], prompts: [p], mode: turbo, video_type: vid_1.1_i2v_720}}
"""


def _spec(tmp_path: Path, pricing: str = "") -> Path:
    return write(tmp_path / "c.yaml", SPEC.format(pricing=pricing))


def test_hd_is_unknown_unless_priced_and_the_fast_price_stays_sd(tmp_path: Path) -> None:
    plan = build_plan(load_campaign(_spec(tmp_path)))
    rows = {row.name: row for row in plan.rows}
    assert rows["sd"].cost == 1.2 and rows["sd"].unpriced == 0
    assert rows["hd"].cost is None and rows["hd"].unpriced == 1
    assert plan.totals.unpriced == {"fast_hd": 1, "turbo_hd": 1}
    priced = _spec(tmp_path, "pricing: {fast: 0.6, fast_hd: 1.2, turbo_hd: 2.5}\n")
    rows = {row.name: row for row in build_plan(load_campaign(priced)).rows}
    assert (rows["sd"].cost, rows["hd"].cost, rows["turbo-hd"].cost) == (1.2, 1.2, 2.5)


def test_a_relax_hd_price_is_refused_since_relax_makes_no_hd(tmp_path: Path) -> None:
    result = mjv("validate", str(_spec(tmp_path, "pricing: {relax_hd: 0.5}\n")))
    assert result.code == 1 and "relax_hd" in result.out + result.err


def test_every_format_shows_each_rows_cost(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "pricing: {fast_hd: 1.2}\n")
    text = mjv("plan", str(spec))
    assert text.code == EXIT_WORK
    assert "    cost     1.20 USD (2 video submissions)" in text.out
    assert "    cost     unknown (1 video submission without a price: no 'turbo_hd'" in text.out
    jobs = {
        job["name"]: job
        for job in json.loads(mjv("plan", str(spec), "--format", "json").out)["jobs"]
    }
    assert jobs["sd"]["cost"] == {"total": 1.2, "known": 1.2, "unpriced": 0}
    assert jobs["turbo-hd"]["cost"] == {"total": None, "known": 0.0, "unpriced": 1}
    markdown = mjv("plan", str(spec), "--format", "markdown").out
    assert (
        "| `sd` | new | 1.20 USD |" in markdown and "| `turbo-hd` | new | 1 unpriced |" in markdown
    )


def test_plan_select_plans_only_the_matching_jobs(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "pricing: {fast_hd: 1.2}\n")
    result = mjv("plan", str(spec), "--select", "*hd", "--format", "json")
    plan = json.loads(result.out)
    assert result.code == EXIT_WORK and [j["name"] for j in plan["jobs"]] == ["hd", "turbo-hd"]
    assert plan["totals"]["video_submissions"] == 2 and plan["totals"]["known_cost"] == 1.2
    typo = mjv("plan", str(spec), "--select", "nope*")
    assert typo.code == EXIT_USAGE and "--select 'nope*' matches no job" in typo.err


@pytest.mark.parametrize(
    ("video_type", "price"), [("vid_1.1_i2v_480", 0.6), ("vid_1.1_i2v_720", 1.2)]
)
def test_the_simulator_charges_hd_apart(video_type: str, price: float) -> None:
    with wire(FakeClock()) as w:
        task = w.task_id(w.create(key="k-a1", videoType=video_type))
        assert w.sim.charges() == [Charge("video", "fast", "k-a1", task, price)]
