"""Commands that pay again (--force, retry --include-final) state the cost and ask on a
terminal; off a terminal they refuse without --yes, before anything is sent."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from runsupport import run_spec, simulator, write

from orchestrator.commands.confirm import NotConfirmedError, confirm
from orchestrator.engine.repay import Repayment
from orchestrator.errors import EXIT_USAGE
from orchestrator.simulator import Simulator, SimulatorConfig

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: again
pricing: {currency: credits, fast: 2}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit"
jobs:
  - {name: j1, images: [a], prompts: [p], extend: [{prompt: "on"}]}
  - {name: j2, images: [a], prompts: [p], vars: {x: 1}, raw: true}
"""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _args(yes: bool = False, simulate: bool = False) -> argparse.Namespace:
    return argparse.Namespace(yes=yes, simulate=simulate)


ITEMS = [Repayment("--force", 2, 4.0)]


def test_force_off_a_terminal_refuses_without_yes_and_sends_nothing(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(simulator, spec).code == 0
    before = simulator.submit_requests()
    refused = run_spec(simulator, spec, "--force", "j1")
    assert refused.code == EXIT_USAGE
    assert "--force sends 2 submission(s) again (4.00 credits)" in refused.err
    assert "pass --yes to confirm (nothing was sent)" in refused.err
    assert simulator.submit_requests() == before
    forced = run_spec(simulator, spec, "--force", "j1", "--yes")
    assert forced.code == 0
    assert "mjv: --force sends 2 submission(s) again (4.00 credits)" in forced.err
    assert simulator.submit_requests() == before + 2


def test_force_of_jobs_never_sent_pays_nothing_again_and_asks_nothing(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(simulator, spec, "--force", "j*").code == 0


def test_on_a_terminal_it_asks_and_only_yes_goes_ahead() -> None:
    err = Terminal()
    confirm(ITEMS, "USD", _args(), err, stdin=Terminal("y\n"))
    assert err.getvalue() == "mjv: --force sends 2 submission(s) again (4.00 USD). Send? [y/N] "
    for answer in ("n\n", "\n", ""):
        with pytest.raises(NotConfirmedError, match="not confirmed: nothing was sent"):
            confirm(ITEMS, "USD", _args(), Terminal(), stdin=Terminal(answer))


def test_yes_and_simulated_runs_go_ahead_saying_what_they_pay() -> None:
    for args in (_args(yes=True), _args(simulate=True)):
        err = io.StringIO()
        confirm(ITEMS, "USD", args, err, stdin=io.StringIO())
        assert err.getvalue() == "mjv: --force sends 2 submission(s) again (4.00 USD)\n"


def test_an_unknown_price_is_shown_as_unknown() -> None:
    with pytest.raises(NotConfirmedError, match=r"again \(unknown\)"):
        confirm([Repayment("--include-final", 1, None)], "USD", _args(), io.StringIO())


def test_nothing_to_pay_again_asks_nothing() -> None:
    err = io.StringIO()
    confirm([], "USD", _args(), err, stdin=io.StringIO())
    assert err.getvalue() == ""


def test_retry_of_final_failures_states_the_cost_and_refuses_without_yes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJV_API_KEY", "sk-simulator")
    spec = write(tmp_path / "c.yaml", SPEC.replace('p: "slow orbit"', 'p: "slow orbit ban"'))
    config = SimulatorConfig(job_seconds=0.05, banned_words=("ban",), moderation_style="en")
    with Simulator(config) as sim:
        assert run_spec(sim, spec).code == 3
        sent = sim.submit_requests()
        refused = run_spec(sim, spec, "--include-final", verb="retry")
        assert refused.code == EXIT_USAGE
        assert "--include-final sends 2 submission(s) again (4.00 credits)" in refused.err
        assert sim.submit_requests() == sent
