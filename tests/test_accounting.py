"""One truth about money: plan, run, manifest, status and the provider agree to the cent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runsupport import KEY, mjv, write

from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.simulator.config import DEFAULT_PRICES

PRICES = ", ".join(f"{kind}: {price}" for kind, price in DEFAULT_PRICES.items())
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
SPEC = f"""\
version: 1
campaign: money
pricing: {{{PRICES}}}
images:
  local: {{file: shot.png}}
  c1: {{imagine: "a castle at dawn", pick: 1}}
  c2: {{imagine: "a castle at dawn", pick: 2}}
  c3: {{imagine: "a castle at dawn", pick: 2}}
prompts:
  orbit: "slow orbit"
  push: "push in"
jobs:
  - name: "{{{{ image }}}}-{{{{ prompt }}}}-{{{{ take }}}}"
    images: [local, c1, c2, c3]
    prompts: [orbit, push]
    takes: 2
    extend: [{{prompt: "keep going"}}]
"""
FAST = ("--poll-interval", "0.02", "--max-rps", "1000", "--concurrency", "8")


def _plan_cost(spec: Path) -> float:
    result = mjv("plan", str(spec), "--format", "json")
    plan = json.loads(result.out)
    assert plan["totals"]["cost"] is not None, plan["totals"]["unpriced"]
    return float(plan["totals"]["cost"])


def _views(spec: Path) -> tuple[float, float]:
    """The campaign's spending as the manifest and `mjv status` show it."""
    manifest = json.loads((spec.parent / "out/money/manifest.json").read_text())
    status = json.loads(mjv("status", str(spec), "--format", "json").out)
    return float(manifest["totals"]["spent"]), float(status["spent"])


def _spent_this_run(out: str) -> float:
    """The run summary's own figure (printed to the cent)."""
    line = next(line for line in out.splitlines() if "in this run" in line)
    return float(line.split("spent ")[1].split(" ")[0])


def cents(amount: float) -> object:
    return pytest.approx(amount, abs=0.005)


def test_plan_run_manifest_status_and_provider_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJV_API_KEY", KEY)
    (tmp_path / "shot.png").write_bytes(PNG)
    spec = write(tmp_path / "c.yaml", SPEC)
    with Simulator(SimulatorConfig(job_seconds=0.03, slots=8, api_key=KEY)) as sim:
        run = lambda *extra: mjv("run", str(spec), "--base-url", sim.base_url, *FAST, *extra)  # noqa: E731
        estimate = _plan_cost(spec)
        # 16 jobs: one upload, one imagine grid and two upscales (picks 1, 2, 2 share one),
        # then 12 distinct clip chains of two steps (c2 and c3 make identical requests).
        expected = 0.01 + 0.075 + 2 * 0.04 + 12 * 2 * 0.6
        assert estimate == pytest.approx(expected)
        first = run()
        assert first.code == 0, first.out + first.err
        assert _spent_this_run(first.out) == cents(estimate)
        assert sim.money() == pytest.approx(estimate)
        assert _views(spec) == pytest.approx((estimate, estimate))

        write(spec, SPEC.replace('push: "push in"', 'push: "push in slowly"'))
        change = _plan_cost(spec)
        assert change == pytest.approx(6 * 2 * 0.6)  # the push chains only; sources are kept
        second = run()
        assert _spent_this_run(second.out) == cents(change)
        total = estimate + change
        assert sim.money() == pytest.approx(total)
        assert _views(spec) == pytest.approx((total, total))

        forced = run("--force", "local-orbit-1", "--yes")
        assert _spent_this_run(forced.out) == cents(2 * 0.6)
        total += 2 * 0.6
        assert sim.money() == pytest.approx(total)
        assert _views(spec) == pytest.approx((total, total))
