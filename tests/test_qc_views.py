"""The clip checks where people look: the plan's worst case, the report's cards, the status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runsupport import KEY, mjv, write

from orchestrator.model import Campaign, Job
from orchestrator.plan import build_plan
from orchestrator.qc.report import card_attributes, clip_qc
from orchestrator.qc.rules import QcRules
from orchestrator.qc.worst import worst_case_text
from orchestrator.report import build_page, render_report
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.spec import load_campaign

SPEC = """\
version: 1
campaign: worst
defaults:
  qc: {on_fail: retake, retakes: 3}
budget: {max_cost: 4}
images:
  a: {url: "https://example.com/a.png"}
prompts:
  p: "a slow pan"
jobs:
  - name: one
    images: [a]
    prompts: [p]
    extend: [{prompt: "on"}]
  - name: flagged
    images: [a]
    prompts: [p]
    qc: {on_fail: flag}
"""


def _campaign(tmp_path: Path) -> Campaign:
    return load_campaign(write(tmp_path / "worst.yaml", SPEC))


def test_the_plan_shows_the_worst_case_of_retakes(tmp_path: Path) -> None:
    plan = build_plan(_campaign(tmp_path))
    assert (plan.retakes.retakes, plan.retakes.submissions) == (3, 6)  # flag: no retakes
    assert plan.retakes.cost == 3.6  # 6 fast submissions at 0.6
    text = worst_case_text(plan.retakes, plan.left)
    assert text.startswith("up to 3 retakes: up to 3.60 more (6 video submissions)")
    assert "past the budget by 0.80: retakes stop at the cap" in text  # 4 - 1.2 left = 2.8


def test_mjv_plan_prints_it_and_json_carries_it(tmp_path: Path) -> None:
    spec = write(tmp_path / "worst.yaml", SPEC)
    text = mjv("plan", str(spec))
    assert "up to 3 retakes: up to 3.60 more" in text.out
    data = json.loads(mjv("plan", str(spec), "--format", "json").out.splitlines()[0])
    assert data["retakes"]["submissions"] == 6


def test_a_job_without_retakes_adds_nothing_to_the_plan(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path)
    flagged = tuple(job for job in campaign.jobs if job.qc.retake_limit == 0)
    plan = build_plan(Campaign(**{**vars(campaign), "jobs": flagged}))
    assert plan.retakes.retakes == 0 and worst_case_text(plan.retakes, plan.left) == ""


def _file(passed: bool, motion: float) -> dict[str, object]:
    scores = {"decodes": True, "motion": motion, "start_similarity": 0.5}
    reasons = [] if passed else [f"motion {motion} below 0.004"]
    return {
        "index": 0,
        "name": "clip-0.mp4",
        "url": "https://cdn.example.com/x.mp4",
        "sha256": "0" * 64,
        "bytes": 10,
        "qc": {"passed": passed, "reasons": reasons, "scores": scores},
        "thumbs": ["thumbs/clip-0.poster.jpg", "thumbs/clip-0.strip.jpg"],
    }


def test_cards_show_posters_badges_and_sortable_scores(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path)
    job: Job = campaign.jobs[1]
    step = {"step": 0, "fingerprint": job.fingerprint, "prompt": "a slow pan", "motion": "low"}
    step |= {"index": 0, "status": "downloaded", "task_id": "t", "files": [_file(False, 0.001)]}
    entry = {"name": job.name, "fingerprint": job.fingerprint, "output": job.output_name}
    entry |= {"status": "done", "steps": [step], "take": 1, "settings": {}, "matrix": {}}
    entry |= {"image": {"name": "a", "kind": "url", "url": "https://example.com/a.png"}}
    manifest = {"manifest_version": 1, "campaign": "worst", "jobs": [entry], "totals": {}}
    html = render_report(build_page(Campaign(**{**vars(campaign), "jobs": (job,)}), manifest))
    assert 'poster="flagged/thumbs/clip-0.poster.jpg"' in html
    assert (
        'class="qc-strip" loading="lazy" alt="frames" src="flagged/thumbs/clip-0.strip.jpg"' in html
    )
    assert 'data-qc="failed"' in html and 'data-qmotion="0.001"' in html
    assert '<b class="qc-badge">failed</b>' in html and "motion 0.001 below 0.004" in html
    assert 'value="score:motion">lowest motion' in html
    assert '<select id="checks">' in html


def test_a_card_fails_when_any_clip_fails_and_keeps_each_lowest_score() -> None:
    checks = [clip_qc(_file(True, 0.02)), clip_qc(_file(False, 0.001)), None]
    found = card_attributes(checks)
    assert found["data-qc"] == "failed" and found["data-qmotion"] == 0.001
    assert card_attributes([None]) == {"data-qc": ""}
    assert clip_qc({"name": "clip-0.mp4"}) is None


def test_retake_limit_only_with_retake_and_enabled() -> None:
    assert QcRules(on_fail="retake", retakes=2).retake_limit == 2
    assert QcRules(on_fail="flag", retakes=2).retake_limit == 0
    assert QcRules(enabled=False, on_fail="retake", retakes=2).retake_limit == 0


def test_status_and_plan_name_the_clips_that_failed(tmp_path: Path, monkeypatch: object) -> None:

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("MJV_API_KEY", KEY)
    spec = write(tmp_path / "s.yaml", SPEC.replace("a slow pan", "a bad pan"))
    config = SimulatorConfig(job_seconds=0.05, slots=4, clip_fault="black", clip_fault_word="bad")
    with Simulator(config) as sim:
        mjv(
            "run",
            str(spec),
            "--base-url",
            sim.base_url,
            "--poll-interval",
            "0.02",
            "--max-rps",
            "1000",
            "--select",
            "flagged",
        )
    status = mjv("status", str(spec))
    assert "failed its checks: flagged base clip 0: " in status.out, status.out
    plan = mjv("plan", str(spec))
    assert "failed its checks: flagged base clip 0: " in plan.out, plan.out
    assert "black 1 above 0.1" in status.out


MATRIX = """\
version: 1
campaign: qcm
defaults:
  qc: {max_black: 0.2}
images:
  a: {url: "https://example.com/a.png"}
prompts:
  p: "slow pan"
jobs:
  - images: [a]
    prompts: [p]
    qc: {min_motion: 0.001}
    matrix: {qc_min_motion: [0.01, 0.02], qc_on_fail: [%s]}
"""


def test_rules_merge_defaults_job_and_matrix_rows(tmp_path: Path) -> None:
    jobs = load_campaign(write(tmp_path / "m.yaml", MATRIX % "retake")).jobs
    assert sorted(job.qc.min_motion for job in jobs) == [0.01, 0.02]
    assert {(job.qc.max_black, job.qc.on_fail) for job in jobs} == {(0.2, "retake")}


def test_a_matrix_rule_value_is_checked_like_the_rule(tmp_path: Path) -> None:
    result = mjv("validate", str(write(tmp_path / "m.yaml", MATRIX % "flag, nope")))
    assert result.code != 0
    assert "$.jobs[0].matrix.qc_on_fail[1]: qc on_fail: 'nope' is not one of" in result.out
