"""build_plan (pure totals and cost) and `mjv plan` output and exit codes."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.errors import EXIT_USAGE
from orchestrator.model import Campaign, ImageSource, Job, Settings
from orchestrator.plan import build_plan
from orchestrator.spec import load_campaign

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"


def _job(name: str, mode: str = "fast", batch: int = 1, image: ImageSource | None = None) -> Job:
    source = image or ImageSource("s", "url", url="https://cdn.example.com/s.png")
    return Job(
        name, f"fp-{name}", source, None, None, Settings(mode=mode, batch_size=batch), 1, name
    )


def _campaign(*jobs: Job, pricing: dict[str, float] | None = None) -> Campaign:
    return Campaign("c", Path("/c.yaml"), "", Path("/out"), jobs, pricing or {"fast": 0.6})


def _plan_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["plan", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_totals_count_extensions_clips_and_cost() -> None:
    campaign = load_campaign(SPECS / "extended-local.yaml")
    totals = build_plan(campaign).totals
    assert (totals.jobs, totals.to_do) == (4, 4)
    assert totals.video_submissions == 3 * 4 + 2  # three jobs with 3 steps, one with 1
    assert totals.seconds == 3 * 2 * (5 + 3 * 4) + 1 * (5 + 4)  # clips x seconds
    # Four distinct local files (bottle, label, two heroes), each uploaded once: the gateway
    # charges uploads, and without a `pricing.upload` their price is unknown, never guessed.
    # Its clips are HD, priced apart since issue 17: without `pricing.fast_hd`, unknown too.
    assert totals.upload_submissions == 4
    assert totals.unpriced == {"upload": 4, "fast_hd": 14}
    assert totals.cost is None and totals.known_cost == 0
    assert totals.imagine_submissions == 0
    priced = replace(campaign, pricing={**campaign.pricing, "upload": 0.01, "fast_hd": 1.2})
    assert build_plan(priced).totals.cost == pytest.approx(14 * 1.2 + 4 * 0.01)


def test_shared_stills_count_each_submission_once() -> None:
    """Three images on one imagine still, picks 1, 2, 2: one grid and two upscales in all."""
    stills = [
        ImageSource(name, "imagine", imagine="a castle", pick=pick)
        for name, pick in (("c1", 1), ("c2", 2), ("c3", 2))
    ]
    jobs = [_job(f"j{i}", image=still) for i, still in enumerate(stills)]
    pricing = {"fast": 0.6, "imagine": 0.1, "upscale": 0.05}
    totals = build_plan(_campaign(*jobs, pricing=pricing)).totals
    assert totals.imagine_submissions == 3 and totals.video_submissions == 3
    assert totals.cost == pytest.approx(3 * 0.6 + 0.1 + 2 * 0.05)


def test_unknown_prices_are_reported_never_invented() -> None:
    plan = build_plan(load_campaign(SPECS / "spring-matrix.yaml"))
    totals = plan.totals
    assert totals.cost is None
    assert totals.unpriced == {"relax": 2}
    assert totals.imagine_submissions == 2  # one still: imagine + upscale, shared by its jobs
    assert totals.known_cost == pytest.approx(16 * 0.6 + 0.075 + 0.0375)


def test_imagine_without_a_price_is_unknown() -> None:
    still = ImageSource("castle", "imagine", imagine="a castle", pick=1)
    totals = build_plan(_campaign(_job("a", image=still), _job("b", image=still))).totals
    assert totals.unpriced == {"imagine": 1, "upscale": 1} and totals.cost is None
    assert totals.known_cost == pytest.approx(1.2)


def test_statuses_decide_the_work_and_the_totals() -> None:
    campaign = _campaign(_job("a"), _job("b", batch=2), _job("c"), _job("d"))
    statuses = {"a": "done", "b": "changed", "c": "failed"}
    plan = build_plan(campaign, statuses)
    assert [row.status for row in plan.rows] == ["done", "changed", "failed", "new"]
    assert plan.has_work and plan.totals.to_do == 3
    assert plan.totals.seconds == 2 * 5 + 5 + 5
    assert not build_plan(campaign, dict.fromkeys(("a", "b", "c", "d"), "done")).has_work


def test_over_budget_uses_the_known_cost() -> None:
    campaign = _campaign(_job("a"), _job("b"))
    assert not build_plan(campaign).over_budget
    tight = Campaign("c", Path("/c.yaml"), "", Path("/out"), campaign.jobs, {"fast": 0.6}, 1.0)
    assert build_plan(tight).over_budget


def test_the_budget_counts_what_the_campaign_spent_before() -> None:
    """A plan far under the cap by itself can be over it with the spending so far."""
    jobs = (_job("a"), _job("b"))
    capped = Campaign("c", Path("/c.yaml"), "", Path("/out"), jobs, {"fast": 0.6}, 2.0)
    assert build_plan(capped).left == 0.8
    plan = build_plan(capped, spent=0.6, in_doubt=0.6)
    assert plan.over_budget and plan.left == -0.4


def test_plan_cli_text_shows_jobs_and_totals_and_exits_2() -> None:
    code, out, err = _plan_cli(str(SPECS / "demo.yaml"))
    assert code == 2 and err == ""
    lines = out.splitlines()
    assert "+ sneaker-orbit [new] 75dcb6b06e84" in lines
    assert "    prompt   orbit: slow orbit around the sneaker, Acme colours, soft light" in lines
    assert lines[-6:] == [
        "2 jobs, 2 to do",
        "2 video submissions (extensions included)",
        "10 seconds of video",
        "estimated cost: 1.20 USD",
        "spent so far: 0.00 USD; this plan: 1.20 USD",
        "budget: no cap",
    ]


def test_plan_cli_text_says_unknown_cost() -> None:
    _, out, _ = _plan_cli(str(SPECS / "spring-matrix.yaml"))
    assert "estimated cost: unknown (no price for 2 relax" in out


def test_plan_cli_json_is_stable_and_has_every_field() -> None:
    code, out, _ = _plan_cli("--format", "json", str(SPECS / "extended-local.yaml"))
    assert code == 2
    data = json.loads(out)
    assert out == json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n"
    job = data["jobs"][0]
    assert job["name"] == "bottle-reveal-long" and job["status"] == "new"
    assert job["key"] == job["fingerprint"][:32]
    assert job["image"]["kind"] == "file" and len(job["image"]["sha256"]) == 64
    assert job["settings"]["video_type"] == "vid_1.1_i2v_720"
    assert [step["step"] for step in job["extensions"]] == [1, 2, 3]
    assert job["extensions"][0]["prompt"] == "the camera keeps orbiting, high energy"
    assert data["totals"]["video_submissions"] == 14
    assert data["totals"]["upload_submissions"] == 4
    assert data["totals"]["unpriced"] == {"upload": 4, "fast_hd": 14}  # HD priced apart
    # Each job's own cost (issue 17): its 4 HD submissions have no price here.
    assert job["cost"] == {"total": None, "known": 0.0, "unpriced": 4}
    assert data["jobs"][3]["end_image"]["name"] == "bottle"


def test_plan_cli_invalid_spec_exits_1_with_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("version: 1\ncampaign: x\njobs: [{images: [nope]}]\n")
    code, out, err = _plan_cli("bad.yaml")
    assert code == 1 and out == ""
    assert "bad.yaml:3:18: $.jobs[0].images[0]: unknown image 'nope'" in err


def test_plan_cli_missing_spec_is_a_usage_error_not_work() -> None:
    code, _, err = _plan_cli("nothere.yaml")
    assert code == EXIT_USAGE and "nothere.yaml: no such file" in err
