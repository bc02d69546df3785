"""Crash safety: SIGKILL at random moments, Ctrl-C, and two runners racing on one campaign."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runsupport import (
    assert_state_accounts_for_every_charge,
    charged,
    simulator,
    subprocess_env,
    write,
)

from orchestrator.simulator import Simulator
from orchestrator.state import open_store

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: crash
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
  c: {url: "https://cdn.example.com/c.png"}
prompts:
  orbit: "slow orbit, {{ mood }} light"
jobs:
  - name: "{{ image }}-{{ mood }}"
    images: [a, b, c]
    prompts: [orbit]
    matrix: {mood: [warm, cold]}
    extend:
      - {prompt: "keeps orbiting"}
"""
SUBMISSIONS = 12  # 6 jobs x (base clip + 1 extension)
FAST = ["--poll-interval", "0.02", "--max-rps", "1000", "--concurrency", "4"]


def _start(sim: Simulator, spec: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", str(spec), "--quiet", *FAST],
        env=subprocess_env(sim),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(sim: Simulator, spec: Path) -> None:
    for _ in range(5):
        proc = _start(sim, spec)
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            return
    raise AssertionError(f"campaign never finished: {proc.returncode} {out} {err}")


def _assert_each_submission_charged_once(sim: Simulator) -> None:
    counts = charged(sim)
    assert len(counts) == SUBMISSIONS, counts
    assert set(counts.values()) == {1}
    # In-doubt resends repeat the first attempt's key, so every key is an "-a1".
    assert all(key.endswith("-a1") for key in counts), counts


def _assert_files_match_manifest(spec: Path) -> None:
    import hashlib

    out = spec.parent / "out" / "crash"
    manifest = json.loads((out / "manifest.json").read_text())
    files = 0
    for job in manifest["jobs"]:
        assert job["status"] == "done"
        for step in job["steps"]:
            for entry in step["files"]:
                data = (out / job["output"] / entry["name"]).read_bytes()
                assert hashlib.sha256(data).hexdigest() == entry["sha256"]
                files += 1
    assert files == SUBMISSIONS


def test_sigkill_at_random_moments_leaves_in_doubt_only_what_was_sent(
    simulator: Simulator, tmp_path: Path
) -> None:
    """Kills at random moments: every submission the state holds in doubt really reached the
    provider (its request log has the key), and the state's money equals the provider's."""
    spec = write(tmp_path / "c.yaml", SPEC)
    rng = random.Random(20261124)
    for _ in range(10):
        proc = _start(simulator, spec)
        time.sleep(rng.uniform(0.05, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    _finish(simulator, spec)
    state = tmp_path / ".mjv/state.db"
    received = {record.key for record in simulator.submit_log()}
    with open_store(state, "crash") as store:
        doubted = [
            attempt.sent_key
            for sub in store.submissions()
            for attempt in store.attempts(sub.key)
            if attempt.outcome == "in_doubt"
        ]
    assert all(key in received for key in doubted), (doubted, received)
    assert_state_accounts_for_every_charge(simulator, state, "crash")
    assert set(charged(simulator)) == {key for key in received if key.endswith("-a1")}
    _assert_files_match_manifest(spec)


def test_two_concurrent_runners_never_submit_a_job_twice(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    first, second = _start(simulator, spec), _start(simulator, spec)
    results = [proc.communicate(timeout=120) for proc in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), results
    _assert_each_submission_charged_once(simulator)
    _assert_files_match_manifest(spec)


def test_ctrl_c_stops_new_submissions_and_exits_130(tmp_path: Path) -> None:
    from runsupport import KEY

    from orchestrator.simulator import SimulatorConfig

    config = SimulatorConfig(job_seconds=0.6, slots=2, api_key=KEY)
    with Simulator(config) as sim:
        spec = write(tmp_path / "c.yaml", SPEC)
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "run", str(spec), *FAST],
            env=subprocess_env(sim),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the first accepted submission, however long
            if "submitted" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, out
        assert "interrupted" in out
        assert sum(charged(sim).values()) < SUBMISSIONS
        _finish(sim, spec)
        _assert_each_submission_charged_once(sim)


SMALL = SPEC.replace("images: [a, b, c]", "images: [a, b]")


def test_sigkill_before_each_kind_of_state_write_never_pays_twice(
    simulator: Simulator, tmp_path: Path
) -> None:
    """Deterministic crashes: the child kills itself just before its N-th state write, so
    every moment of the lifecycle is hit, including between an intent and its answer."""
    spec = write(tmp_path / "c.yaml", SMALL)
    child = Path(__file__).with_name("crash_child.py")
    rng = random.Random(7)
    codes = []
    for writes in [*sorted(rng.sample(range(1, 60), 12)), 10**6]:  # the last run is not killed
        proc = subprocess.run(
            [sys.executable, str(child), str(spec), simulator.base_url, str(writes)],
            env=subprocess_env(simulator),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
        codes.append(proc.returncode)
    assert codes[-1] == 0
    assert codes.count(-signal.SIGKILL) >= 5  # the campaign was really interrupted, many times
    counts = charged(simulator)
    assert len(counts) == 8, counts
    assert all(key.endswith("-a1") for key in counts)  # an in-doubt resend repeats its key
    # A kill between a sent request and its recorded answer leaves it in doubt; the resend is
    # charged again by a gateway that ignores Idempotency-Key, and the state says so.
    assert_state_accounts_for_every_charge(simulator, tmp_path / ".mjv/state.db", "crash")
    manifest = json.loads((tmp_path / "out/crash/manifest.json").read_text())
    assert [job["status"] for job in manifest["jobs"]] == ["done"] * 4


def test_a_kill_between_the_intent_and_the_request_keeps_it_possibly_charged(
    simulator: Simulator, tmp_path: Path
) -> None:
    """Killed after its intent committed and before the request left: the provider never saw
    it, yet the state cannot tell that from a lost answer, so the send stays possibly charged
    (never zero) after the resend under the same key finishes the campaign."""
    spec = write(tmp_path / "c.yaml", SMALL)
    child = [sys.executable, str(Path(__file__).with_name("crash_child.py")), str(spec)]
    env = subprocess_env(simulator)
    killed = subprocess.run(
        [*child, simulator.base_url, str(10**6), "record_intent"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL
    assert simulator.submit_log() == []  # nothing reached the provider
    done = subprocess.run(
        [*child, simulator.base_url, str(10**6)], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    state = tmp_path / ".mjv/state.db"
    with open_store(state, "crash") as store:
        lost = [
            attempt
            for sub in store.submissions()
            for attempt in store.attempts(sub.key)
            if attempt.outcome == "in_doubt"
        ]
        totals = store.totals()
    assert len(lost) == 1 and lost[0].reserved == 0.6
    assert totals.reserved == 0.6 and totals.spent == pytest.approx(simulator.money())
    assert set(charged(simulator).values()) == {1}  # the resend was the only charge
    assert_state_accounts_for_every_charge(simulator, state, "crash")
