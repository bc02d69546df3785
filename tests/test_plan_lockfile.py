"""The committed manifest is the lock file: a pull request's plan in a fresh clone, no state."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from runsupport import mjv, run_spec, simulator, write

from orchestrator.simulator import Simulator

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: locked
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  orbit: "slow orbit, {{ mood }} light"
  push: "push in"
jobs:
  - name: "{{ image }}-{{ prompt }}-{{ mood }}"
    images: [a, b]
    prompts: [orbit, push]
    matrix: {mood: [warm, cold]}
    extend: [{prompt: "keep going"}]
"""


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _fresh_clone(tmp_path: Path, sim: Simulator) -> Path:
    """Run the campaign, commit the spec and its manifest (not the clips, not the state),
    and clone that repository as CI would."""
    repo = tmp_path / "repo"
    spec = write(repo / "c.yaml", SPEC)
    assert run_spec(sim, spec).code == 0
    (repo / ".gitignore").write_text(".mjv/\n*.mp4\nreport.html\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "campaign")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / ".mjv").exists() and not list(clone.rglob("*.mp4"))
    return clone / "c.yaml"


def _plan(spec: Path, *fmt: str) -> tuple[int, str]:
    result = mjv("plan", str(spec), *fmt)
    assert result.err == "", result.err
    return result.code, result.out


def test_an_unchanged_spec_plans_nothing_from_the_committed_manifest(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _fresh_clone(tmp_path, simulator)
    code, out = _plan(spec, "--format", "json")
    plan = json.loads(out)
    assert code == 0
    assert {job["status"] for job in plan["jobs"]} == {"done"}
    assert plan["totals"]["to_do"] == 0 and plan["totals"]["cost"] == 0
    assert "committed manifest" in plan["basis"]


def test_one_edited_prompt_plans_exactly_its_jobs_and_says_why(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _fresh_clone(tmp_path, simulator)
    spec.write_text(SPEC.replace('push: "push in"', 'push: "push in slowly"'))
    code, out = _plan(spec, "--format", "json")
    plan = json.loads(out)
    assert code == 2
    changed = {job["name"] for job in plan["jobs"] if job["status"] != "done"}
    assert changed == {"a-push-warm", "a-push-cold", "b-push-warm", "b-push-cold"}
    assert {job["status"] for job in plan["jobs"] if job["name"] in changed} == {"changed"}
    job = next(job for job in plan["jobs"] if job["name"] == "a-push-warm")
    assert job["why"] == ['prompt: "push in" -> "push in slowly"']
    # "push in" ignores the mood, so warm and cold share one request: two base clips and
    # their two extension steps are the whole change, not the campaign's sixteen.
    assert plan["totals"]["video_submissions"] == 4
    assert plan["totals"]["cost"] == 2.4

    code, summary = _plan(spec, "--format", "markdown")
    assert code == 2
    assert "**Cost of this change: 2.40 USD**" in summary
    assert "8 jobs: 4 done, 4 changed." in summary
    # The cost column is issue 17's: each row's own cost.
    row = '| `a-push-warm` | changed | 1.20 USD | prompt: "push in" -> "push in slowly" |'
    assert row in summary


def test_without_state_or_manifest_every_job_is_new(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    code, out = _plan(spec)
    assert code == 2 and "against  nothing" in out


def test_a_manifest_of_another_campaign_is_not_a_lock_file(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _fresh_clone(tmp_path, simulator)
    other = spec.with_name("other.yaml")
    other.write_text(SPEC.replace("campaign: locked", "campaign: other"))
    shutil.copytree(spec.parent / "out" / "locked", spec.parent / "out" / "other")
    code, out = _plan(other, "--format", "json")
    assert code == 2 and {job["status"] for job in json.loads(out)["jobs"]} == {"new"}
