"""`mjv plan` against the state file: new, done, changed, incomplete, failed and orphaned jobs."""

from __future__ import annotations

import json
from pathlib import Path

from runsupport import mjv, run_spec, simulator, write

from orchestrator.simulator import Simulator

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: planned
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
  push: "push in"
  rise: "rise up"
  drift: "drift sideways"
jobs:
  - name: "{{ prompt }}"
    images: [a]
    prompts: [orbit, push]
  - name: "long"
    images: [a]
    prompts: [drift]
    extend:
      - {prompt: "STEP1"}
      - {prompt: "STEP2"}
"""


def _plan(spec: Path) -> tuple[int, dict[str, object]]:
    result = mjv("plan", str(spec), "--format", "json")
    return result.code, json.loads(result.out)


def _statuses(plan: dict[str, object]) -> dict[str, str]:
    jobs = plan["jobs"]
    assert isinstance(jobs, list)
    return {job["name"]: job["status"] for job in jobs}


def test_plan_classifies_jobs_against_the_state(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    code, plan = _plan(spec)
    assert code == 2
    assert set(_statuses(plan).values()) == {"new"}
    assert not (tmp_path / ".mjv").exists()  # planning never creates a state file

    assert run_spec(simulator, spec).code == 0
    code, plan = _plan(spec)
    assert code == 0
    assert set(_statuses(plan).values()) == {"done"}
    totals = plan["totals"]
    assert isinstance(totals, dict)
    assert (totals["to_do"], totals["video_submissions"]) == (0, 0)

    edited = SPEC.replace("push in", "push in slowly").replace("STEP2", "the camera rises")
    edited = edited.replace("prompts: [orbit, push]", "prompts: [push, rise]")
    write(spec, edited)
    code, plan = _plan(spec)
    assert code == 2
    assert _statuses(plan) == {
        "push": "changed",
        "rise": "new",
        "long": "changed",
        "orbit": "orphaned",
    }
    totals = plan["totals"]
    assert isinstance(totals, dict)
    # push (1) + rise (1) + only step 2 of long (1): the base clip and step 1 are kept.
    assert totals["video_submissions"] == 3
    assert totals["cost"] == 1.8


def test_plan_text_marks_each_class(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(simulator, spec, "--select", "orbit").code == 0
    text = mjv("plan", str(spec)).out
    assert "= orbit [done]" in text
    assert "+ push [new]" in text


def _rows(plan: dict[str, object]) -> dict[str, dict[str, object]]:
    jobs = plan["jobs"]
    assert isinstance(jobs, list)
    return {job["name"]: job for job in jobs}


def test_plan_says_what_changed(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(simulator, spec).code == 0
    edited = SPEC.replace("push in", "push in slowly").replace("STEP2", "the camera rises")
    edited = edited.replace(
        "defaults: {mode: fast, motion: low", "defaults: {mode: fast, motion: high"
    )
    write(spec, edited)
    _, plan = _plan(spec)
    rows = _rows(plan)
    assert rows["push"]["why"] == [
        'prompt: "push in" -> "push in slowly"',
        'settings.motion: "low" -> "high"',
    ]
    assert rows["orbit"]["why"] == ['settings.motion: "low" -> "high"']
    text = mjv("plan", str(spec)).out
    assert '    changed  prompt: "push in" -> "push in slowly"' in text

    write(spec, SPEC.replace("STEP2", "the camera rises"))
    _, plan = _plan(spec)
    assert _rows(plan)["long"]["why"] == ['extension 2.prompt: "STEP2" -> "the camera rises"']


def test_deleted_or_altered_clips_make_a_job_incomplete(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(simulator, spec).code == 0
    out = tmp_path / "out" / "planned"
    (out / "orbit" / "clip-0.mp4").unlink()
    with (out / "long" / "ext1-clip-0.mp4").open("ab") as clip:
        clip.write(b"tampered")
    code, plan = _plan(spec)
    assert code == 2  # a CI step gating on plan does not pass with missing clips
    rows = _rows(plan)
    assert rows["orbit"]["status"] == "incomplete"
    assert rows["orbit"]["damaged"] == ["orbit/clip-0.mp4 missing"]
    assert rows["long"]["damaged"] == ["long/ext1-clip-0.mp4 altered (sha256 differs)"]
    assert rows["push"]["status"] == "done"
    totals = plan["totals"]
    assert isinstance(totals, dict) and totals["video_submissions"] == 0  # nothing to pay
    status = mjv("status", str(spec)).out
    assert "file: orbit: orbit/clip-0.mp4 missing" in status
    rerun = run_spec(simulator, spec)
    assert rerun.code == 0 and "0 submitted, 2 clips downloaded" in rerun.out
    assert _plan(spec)[0] == 0
