"""The run engine against every fault the simulator injects, one class at a time and mixed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from memprovider import Clock, MemoryProvider, memory_run
from runsupport import (
    KEY,
    assert_state_accounts_for_every_charge,
    charged,
    mjv,
    run_engine,
    run_spec,
    write,
)

from orchestrator.client import Client
from orchestrator.engine.context import RunConfig, RunReport
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import open_store

SPEC = """\
version: 1
campaign: faults
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  orbit: "slow orbit, {{ mood }} light"
jobs:
  - name: "{{ image }}-{{ mood }}"
    images: [a, b]
    prompts: [orbit]
    matrix: {mood: [warm, cold, grey, gold]}
"""
JOBS = 8
QUICK = RunConfig(
    concurrency=4,
    max_rps=1000,
    poll_interval=0.02,
    max_attempts=12,
    retry_base=0.01,
    retry_cap=0.05,
    account_backoff=0.02,
)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return write(tmp_path / "c.yaml", SPEC)


def _simulator(**faults: object) -> Iterator[Simulator]:
    faults = {"moderation_style": "en", **faults}
    config = SimulatorConfig(job_seconds=0.03, slots=4, api_key=KEY, retry_after=0.01, **faults)
    with Simulator(config) as sim:  # type: ignore[arg-type]
        yield sim


def run_lib(sim: Simulator, spec: Path, config: RunConfig = QUICK) -> tuple[RunReport, Path]:
    """Run ``spec`` through the library API with quick backoff; return the report."""
    state = spec.parent / ".mjv" / "state.db"
    return run_engine(load_campaign(spec), Client(KEY, sim.base_url), state, config), state


def _one_charge_per_attempt(sim: Simulator) -> dict[str, int]:
    counts = charged(sim)
    assert set(counts.values()) == {1}, counts
    return counts


@pytest.mark.parametrize(
    ("fault", "share"),
    [("rate_limit", 0.4), ("server_error", 0.4), ("queue_full", 0.4), ("slow", 0.02)],
)
def test_transient_faults_are_retried_until_every_job_is_done(
    spec: Path, fault: str, share: float
) -> None:
    for sim in _simulator(**{fault: share}):
        report, _ = run_lib(sim, spec)
        assert report.count("done") == JOBS, report
        counts = _one_charge_per_attempt(sim)
        # Refused sends are not charged: one accepted attempt per job, whatever its number.
        assert len(counts) == JOBS and len({key.split("-a")[0] for key in counts}) == JOBS
        if fault != "slow":
            assert sim.faults_injected()[fault] > 0


def test_dropped_connection_after_accept_is_resent_with_the_same_key(spec: Path) -> None:
    """A gateway that honours Idempotency-Key (a newer fork) charges the resend nothing."""
    for sim in _simulator(drop_after_submit=0.5, honor_idempotency_key=True):
        report, _ = run_lib(sim, spec)
        assert report.count("done") == JOBS
        assert sim.faults_injected()["drop_after_submit"] > 0
        counts = _one_charge_per_attempt(sim)
        assert len(counts) == JOBS and all(key.endswith("-a1") for key in counts)
        assert sim.submit_requests() > JOBS  # the resends happened, and cost nothing


def test_a_resend_the_gateway_charges_again_is_on_record_as_possibly_charged(
    spec: Path,
) -> None:
    """trueai and CometAPI ignore Idempotency-Key: an in-doubt resend is charged twice. The
    run warns of each one, and the state holds the lost send as possibly charged, so its
    money equals the provider's to the cent."""
    for sim in _simulator(drop_after_submit=0.5):
        report, state = run_lib(sim, spec)
        assert report.count("done") == JOBS
        assert report.resent_in_doubt  # every double charge was announced
        counts = charged(sim)
        assert all(key.endswith("-a1") for key in counts) and max(counts.values()) > 1
        # Every job charged more than once is one the run reported as resent in doubt.
        assert sum(1 for n in counts.values() if n > 1) <= len(report.resent_in_doubt)
        assert_state_accounts_for_every_charge(sim, state, "faults")


def _moderated(report: RunReport) -> set[str]:
    """Jobs that failed for good on a moderation verdict (the simulator alternates reasons)."""
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert all(o.final and "content policy" in (o.reason or "") for o in failed), failed
    return {o.name for o in failed}


def test_failed_tasks_get_new_attempts_and_are_counted_as_refunded(spec: Path) -> None:
    for sim in _simulator(fail_rate=0.4):
        report, state = run_lib(sim, spec)
        moderated = _moderated(report)
        assert report.count("done") == JOBS - len(moderated)
        counts = _one_charge_per_attempt(sim)
        failures = sim.faults_injected()["task_failure"]
        assert failures > len(moderated)  # transient failures were retried
        assert len(counts) == JOBS + failures - len(moderated)
        with open_store(state, "faults") as store:
            totals = store.totals()
        assert totals.refunded == pytest.approx(0.6 * failures)
        assert totals.spent == pytest.approx(0.6 * (len(counts) - failures))


def test_mixed_faults_still_finish_with_one_accepted_submission_per_attempt(
    tmp_path: Path,
) -> None:
    bigger = (
        SPEC.replace("images: [a, b]", "images: [a, b, c]")
        .replace("b: {url", 'c: {url: "https://cdn.example.com/c.png"}\n  b: {url')
        .replace("gold]", "gold, red, blue, pink, teal]")
    )
    spec = write(tmp_path / "big.yaml", bigger)
    faults = dict(
        rate_limit=0.15, server_error=0.15, queue_full=0.15, fail_rate=0.2, drop_after_submit=0.15
    )
    # Nearly half of all sends are refused here, so 12 tries in a row can all be refused
    # (one job of 24 in a clean-clone run under load): the run is given enough tries that
    # finishing does not depend on which job the simulator's draws fall on.
    patient = replace(QUICK, max_attempts=40)
    for sim in _simulator(**faults):
        report, state = run_lib(sim, spec, patient)
        assert len(report.outcomes) == 24
        assert report.count("done") == 24 - len(_moderated(report))
        assert_state_accounts_for_every_charge(sim, state, "faults")
        injected = sim.faults_injected()
        assert all(injected[name] > 0 for name in ("rate_limit", "server_error", "queue_full"))


def test_banned_prompt_fails_its_job_for_good_and_others_finish(spec: Path) -> None:
    for sim in _simulator(banned_words=("gold",)):
        report, _ = run_lib(sim, spec)
        failed = {o.name for o in report.outcomes if o.status == "failed"}
        assert failed == {"a-gold", "b-gold"}
        assert all(o.final for o in report.outcomes if o.status == "failed")
        assert report.count("done") == JOBS - 2
        assert report.stopped is None


def test_banned_prompts_in_a_row_stop_the_run(spec: Path) -> None:

    for sim in _simulator(banned_words=("light",)):
        report, _ = run_lib(sim, spec, replace(QUICK, max_banned_in_row=2, concurrency=1))
        assert report.stopped is not None and "banned" in report.stopped
        assert sim.submit_requests() == 2


def test_a_slow_task_is_stuck_not_dead_and_a_later_run_picks_it_up(spec: Path) -> None:
    """Slow is not dead (API.md): past the task timeout the job is reported as stuck with its
    last status, keeps its task id, and is never submitted again while the provider runs it."""

    # Virtual time (issue 17 item 9): a real 0.6 s task could finish within a 0.1 s timeout's
    # first late poll on a loaded machine.
    clock = Clock()
    provider = MemoryProvider(SimulatorConfig(job_seconds=600, slots=8), clock)
    config = RunConfig(poll_interval=3.0, task_timeout=60, select=("a-warm",))
    state = spec.parent / "state.db"
    report = memory_run(spec, provider, clock, config, state)
    (outcome,) = report.outcomes
    assert outcome.status == "stuck"
    assert "still" in (outcome.reason or "") and "after waiting" in (outcome.reason or "")
    with open_store(state, "faults") as store:
        sub = next(s for s in store.submissions() if s.job == "a-warm")
        assert sub.task_id is not None and sub.status in ("submitted", "running")
        assert [a.attempt for a in store.attempts(sub.key)] == [1]
    report = memory_run(spec, provider, clock, replace(config, task_timeout=3900), state)
    assert report.count("done") == 1 and report.submitted == 0
    assert len([c for c in provider.fake.ledger.entries if not c.refund]) == 1


def test_wrong_key_stops_the_run_with_a_clear_message(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for sim in _simulator():
        monkeypatch.setenv("MJV_API_KEY", "sk-wrong-key-123456")
        result = run_spec(sim, spec)
        assert result.code == 1
        assert "stopped" in result.out
        assert "sk-wrong-key-123456" not in result.out + result.err
        assert sum(charged(sim).values()) == 0


def test_quota_exhaustion_stops_the_run(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for sim in _simulator(credits=2):
        monkeypatch.setenv("MJV_API_KEY", KEY)
        result = run_spec(sim, spec, "--concurrency", "1")
        assert result.code == 1
        assert "quota" in result.out
        assert sum(charged(sim).values()) == 2


def test_budget_cap_refuses_submissions_that_would_exceed_it(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for sim in _simulator():
        monkeypatch.setenv("MJV_API_KEY", KEY)
        result = run_spec(sim, spec, "--max-cost", "1.5", "--concurrency", "1")
        assert result.code == 3
        assert "2/8 jobs done" in result.out
        assert sum(charged(sim).values()) == 2
        shown = mjv("status", str(spec))
        assert "spent 1.20" in shown.out


def test_a_poller_that_breaks_fails_the_jobs_instead_of_hanging(spec: Path) -> None:
    """A bug in polling must end the run with failed jobs, not leave it waiting forever."""
    from unittest import mock

    for sim in _simulator():
        with mock.patch.object(Client, "list_tasks", side_effect=RuntimeError("boom")):
            report, _ = run_lib(sim, spec)
        assert report.count("failed") + report.count("done") == JOBS
        assert report.count("failed") > 0
        assert all("run again" in (o.reason or "") for o in report.outcomes if o.reason)
        # The tasks stayed recorded: the next run polls them and submits nothing new.
        submits = sim.submit_requests()
        again, _ = run_lib(sim, spec)
        assert again.count("done") == JOBS
        assert sim.submit_requests() == submits
        assert set(charged(sim).values()) == {1}


def test_retry_gives_retryable_failures_a_new_attempt_and_leaves_final_ones(
    spec: Path,
) -> None:

    once = replace(QUICK, max_attempts=1, select=("a-warm", "a-cold"), concurrency=1)
    for sim in _simulator(fail_rate=1.0):  # failures alternate: transient, then moderation
        report, _ = run_lib(sim, spec, once)
        kinds = {o.name: o.final for o in report.outcomes}
        assert [o.status for o in report.outcomes] == ["failed", "failed"]
        assert sorted(kinds.values()) == [False, True]
    for sim in _simulator():
        report, _ = run_lib(sim, spec, replace(once, retry_failed=True))
        by_name = {o.name: o for o in report.outcomes}
        retryable = next(name for name, final in kinds.items() if not final)
        final = next(name for name, final in kinds.items() if final)
        assert by_name[retryable].status == "done"
        assert by_name[final].status == "failed" and by_name[final].final
        assert len(charged(sim)) == 1
        assert all(key.endswith("-a2") for key in charged(sim))  # a new attempt, a new key


def test_an_unreachable_provider_stops_the_run_instead_of_retrying_every_job(
    spec: Path, tmp_path: Path
) -> None:
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nobody listens on
    port = closed.getsockname()[1]

    class Nowhere:
        base_url = f"http://127.0.0.1:{port}"

        @staticmethod
        def submit_requests() -> int:
            return 0

    report, _ = run_lib(Nowhere(), spec)  # type: ignore[arg-type]
    closed.close()
    assert report.stopped is not None
    # Jobs fail concurrently, so the stop may count a try or two past the limit of 8.
    tries = re.search(r"cannot be reached \((\d+) tries in a row\)", report.stopped)
    assert tries is not None and 8 <= int(tries.group(1)) <= 8 + 3, report.stopped
    assert f"127.0.0.1:{port}" in report.stopped
    assert report.count("done") == 0
