"""Stops and exit codes: one clear line, exit 1, never 130, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from runsupport import FAST, KEY, run_spec, simulator, subprocess_env, write

from orchestrator.errors import EXIT_USAGE
from orchestrator.simulator import Simulator, SimulatorConfig

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: stops
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4, 5, 6, 7, 8]}
"""


def _run_child(spec: Path, sim: Simulator, key: str = KEY) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(sim) | {"MJV_API_KEY": key}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "run", str(spec), *FAST],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("config", "key", "says"),
    [
        (SimulatorConfig(job_seconds=0.3, slots=4, credits=2, api_key=KEY), KEY, "quota"),
        (SimulatorConfig(job_seconds=0.3, slots=4, api_key=KEY), "sk-wrongkey12345", "auth"),
    ],
)
def test_an_account_stop_mid_run_is_one_line_and_exit_1(
    tmp_path: Path, config: SimulatorConfig, key: str, says: str
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with Simulator(config) as sim:
        proc = _run_child(spec, sim, key)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output and "never retrieved" not in output
    stops = [line for line in proc.stdout.splitlines() if line.startswith("run stopped:")]
    assert len(stops) == 1 and says in stops[0].lower()
    assert "interrupted" not in proc.stdout
    assert key not in output


def test_an_unresolvable_host_stops_the_run_as_unreachable_at_once(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "run", str(spec), *FAST],
        env=subprocess_env_without_sim() | {"MJV_BASE_URL": "http://no-such-host.invalid"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot be reached" in proc.stdout and "Traceback" not in proc.stderr


def subprocess_env_without_sim() -> dict[str, str]:
    import os

    env = dict(os.environ, MJV_API_KEY=KEY, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


@pytest.mark.parametrize("flag", ["--select", "--force"])
def test_a_pattern_that_matches_no_job_is_a_usage_error(
    simulator: Simulator, tmp_path: Path, flag: str
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    result = run_spec(simulator, spec, flag, "j1", flag, "jx*")
    assert result.code == EXIT_USAGE
    assert f"{flag} 'jx*' matches no job" in result.err
    assert simulator.submit_requests() == 0
