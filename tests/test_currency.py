"""pricing.currency: the unit shown with every amount in plan, run, status, report, manifest."""

from __future__ import annotations

import json
from pathlib import Path

from runsupport import manifest, mjv, run_spec, simulator, write

from orchestrator.simulator import Simulator

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: unit
pricing: {currency: credits, fast: 3}
budget: {max_cost: 100}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit"
jobs:
  - {name: j1, images: [a], prompts: [p]}
"""


def test_every_amount_carries_the_unit(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    plan = mjv("plan", str(spec))
    assert "estimated cost: 3.00 credits" in plan.out
    assert "budget: cap 100 credits, 97.00 credits left after it" in plan.out
    assert json.loads(mjv("plan", str(spec), "--format", "json").out)["currency"] == "credits"
    assert "cap 100 credits" in mjv("plan", str(spec), "--format", "markdown").out
    ran = run_spec(simulator, spec)
    assert "spent 3.00 credits in this run (3.00 credits by the campaign in all)" in ran.out
    assert "spent 3.00 credits" in ran.err  # the progress summary
    status = mjv("status", str(spec))
    assert "money: spent 3.00 credits, reserved 0.00 credits, refunded 0.00 credits" in status.out
    assert json.loads(mjv("status", str(spec), "--format", "json").out)["currency"] == "credits"
    assert manifest(spec, "unit")["currency"] == "credits"
    page = (tmp_path / "out" / "unit" / "report.html").read_text()
    assert "3.00 credits" in page


def test_without_a_currency_amounts_are_in_usd_the_built_in_price_s_unit(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC.replace("currency: credits, ", ""))
    assert "estimated cost: 3.00 USD" in mjv("plan", str(spec)).out


def test_a_currency_that_is_not_a_label_is_refused(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC.replace("currency: credits", 'currency: "\\e[31m"'))
    result = mjv("validate", str(spec))
    assert result.code == 1 and "$.pricing.currency" in result.out
