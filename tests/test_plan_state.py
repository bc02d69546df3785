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
