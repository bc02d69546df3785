"""Review from the terminal: an `index: approved` step waits, an approval plans exactly it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from runsupport import manifest, mjv, run_spec, simulator, write

from orchestrator.simulator import Simulator
from orchestrator.spec.identity import extension_fingerprint

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: pick
defaults: {mode: fast, motion: low, batch_size: 4}
pricing: {fast: 0.25}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: "hero-{{ take }}"
    images: [a]
    prompts: [orbit]
    takes: 2
    extend:
      - {prompt: "keeps orbiting", index: approved}
"""


def _plan(spec: Path) -> dict[str, object]:
    done = mjv("plan", str(spec), "--format", "json")
    assert done.code in (0, 2), done.err
    data: dict[str, object] = json.loads(done.out)
    return data


def test_an_approval_plans_and_runs_exactly_one_extension(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "pick.yaml", SPEC)
    first = run_spec(simulator, spec, "--quiet")
    assert first.code == 0, first.err
    assert "review: 0 approved, 0 rejected, 8 unreviewed" in first.out
    assert "2 jobs wait for an approved clip" in first.out

    page = (tmp_path / "out" / "pick" / "report.html").read_text()
    assert page.count("extension 1 · extends the approved clip") == 2
    assert '<span data-total="unreviewed">unreviewed <b>8</b>' in page
    plan = mjv("plan", str(spec))
    assert plan.code == 0 and "2 jobs, 0 to do, 2 waiting for review" in plan.out
    assert "[waiting]" in plan.out and "estimated cost: 0.00" in plan.out

    approved = mjv("approve", str(spec), "hero-2/clip-3.mp4", "--stars", "4", "--by", "ana")
    assert approved.code == 0, approved.err
    review = yaml.safe_load((tmp_path / "pick.review.yaml").read_text())
    entry = review["clips"]["hero-2/clip-3.mp4"]
    assert (entry["verdict"], entry["stars"], entry["by"]) == ("approved", 4, "ana")

    data = _plan(spec)
    totals = data["totals"]
    assert isinstance(totals, dict)
    assert (totals["to_do"], totals["waiting"], totals["video_submissions"]) == (1, 1, 1)
    assert totals["cost"] == 0.25
    assert data["review"] == {"approved": 1, "rejected": 0, "unreviewed": 7}
    markdown = mjv("plan", str(spec), "--format", "markdown").out
    assert "`hero-2/clip-3.mp4`: extension 1 of `hero-2`" in markdown

    before = len(simulator.submit_log())
    second = run_spec(simulator, spec, "--quiet")
    assert second.code == 0, second.err
    sent = simulator.submit_log()[before:]
    assert [r.route for r in sent] == ["extend"]
    jobs = {job["name"]: job for job in manifest(spec, "pick")["jobs"]}
    base = jobs["hero-2"]["steps"][0]["fingerprint"]
    wanted = extension_fingerprint(base, "keeps orbiting", "low", 3)
    assert jobs["hero-2"]["steps"][1]["fingerprint"] == wanted
    assert sent[0].key.startswith(wanted[:32])  # the key of the approved index (3)
    assert len(jobs["hero-1"]["steps"]) == 1
    page = (tmp_path / "out" / "pick" / "report.html").read_text()
    assert page.count("extends the approved clip") == 1  # hero-1 still waits
    assert '<p class="verdict verdict-approved"><b>approved</b>' in page  # read-only
    assert '<button type="button" data-verdict' not in page  # no controls on report.html


def test_approving_a_sibling_replaces_the_approval(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "pick.yaml", SPEC)
    assert run_spec(simulator, spec, "--quiet").code == 0
    assert mjv("approve", str(spec), "hero-1/clip-0.mp4", "--note", "nice").code == 0
    assert mjv("approve", str(spec), "hero-1/clip-2.mp4").code == 0
    clips = yaml.safe_load((tmp_path / "pick.review.yaml").read_text())["clips"]
    assert clips["hero-1/clip-2.mp4"]["verdict"] == "approved"
    assert "verdict" not in clips["hero-1/clip-0.mp4"] and clips["hero-1/clip-0.mp4"]["note"]
    both = mjv("approve", str(spec), "hero-2/clip-[01].mp4")
    assert both.code != 0 and "one approved clip per step" in both.err
    assert mjv("reject", str(spec), "hero-2/*").code == 0
    counts = mjv("unreview", str(spec), "hero-2/clip-0.mp4")
    assert "1 approved, 3 rejected, 4 unreviewed" in counts.out


def test_an_unknown_clip_names_the_closest(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "pick.yaml", SPEC)
    assert run_spec(simulator, spec, "--quiet").code == 0
    wrong = mjv("approve", str(spec), "hero-1/clip-9.mp4")
    assert wrong.code != 0 and "closest: hero-1/clip-" in wrong.err
    assert not (tmp_path / "pick.review.yaml").exists()


def test_a_new_approval_makes_a_new_extension_and_keeps_the_old_clips(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "pick.yaml", SPEC.replace("takes: 2", "takes: 1"))
    assert run_spec(simulator, spec, "--quiet").code == 0
    assert "waiting 1" in mjv("status", str(spec)).out
    assert mjv("approve", str(spec), "hero-1/clip-1.mp4").code == 0
    assert run_spec(simulator, spec, "--quiet").code == 0
    assert "done 1" in mjv("status", str(spec)).out
    folder = tmp_path / "out" / "pick" / "hero-1"
    old = (folder / "ext1-clip-0.mp4").read_bytes()

    assert mjv("approve", str(spec), "hero-1/clip-2.mp4").code == 0  # replaces clip-1
    plan = mjv("plan", str(spec))
    assert plan.code == 2 and "[changed]" in plan.out and "index: 1 -> 2" in plan.out
    before = len(simulator.submit_log())
    assert run_spec(simulator, spec, "--quiet").code == 0
    assert [r.route for r in simulator.submit_log()[before:]] == ["extend"]
    kept = [p.read_bytes() for p in folder.glob("versions/*/ext1-clip-0.mp4")]
    assert kept == [old]  # paid for, so kept
    steps = manifest(spec, "pick")["jobs"][0]["steps"]
    assert steps[1]["index"] == 2
