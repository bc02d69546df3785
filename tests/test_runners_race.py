"""Several runners on several machines, one campaign, one account: a race with random kills."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from runsupport import KEY, assert_state_accounts_for_every_charge, subprocess_env, write

from orchestrator.simulator import Simulator, SimulatorConfig

_SCHEMAS = itertools.count()
SLOTS = 3  # the account's limit: every runner says --concurrency 3
SPEC = """\
version: 1
campaign: race
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "{{ image }}{{ n }}"
    images: [a, b]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4, 5, 6]}
    extend: [{prompt: "keep going"}]
"""
FLAGS = ["--poll-interval", "0.05", "--max-rps", "200", "--concurrency", str(SLOTS), "--quiet"]


def _runner(sim: Simulator, spec: Path, state: str, name: str) -> subprocess.Popen[str]:
    env = subprocess_env(sim) | {"MJV_RUNNER_NAME": name, "MJV_LEASE_SECONDS": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", str(spec), "--state", state, *FLAGS],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_runners_with_kills_share_the_account_and_pay_once(
    tmp_path: Path, postgres_url: str
) -> None:
    state = f"{postgres_url}&schema=race{next(_SCHEMAS)}"
    spec = write(tmp_path / "c.yaml", SPEC)
    # The simulator would run 20 at once: only the runners' shared slots hold them to 3.
    with Simulator(SimulatorConfig(job_seconds=0.3, slots=20, api_key=KEY)) as sim:
        rng = random.Random(13)
        runners = [_runner(sim, spec, state, f"host{i}") for i in range(4)]
        time.sleep(0.8)
        for victim in rng.sample(runners, 2):  # two machines die mid-run
            victim.send_signal(signal.SIGKILL)
        for proc in runners:
            proc.communicate(timeout=120)
        last = _runner(sim, spec, state, "host9")  # a later run finishes what the dead left
        out, err = last.communicate(timeout=120)
        assert last.returncode == 0, out + err
        assert sim.peak_running() <= SLOTS
        assert_state_accounts_for_every_charge(sim, state, "race")
        resent = sum(1 for c in sim.accepted_submissions().values() if c > 1)
        assert resent <= 2  # at most a killed runner's in-doubt sends are charged again
    manifest = json.loads((tmp_path / "out/race/manifest.json").read_text())
    assert [job["status"] for job in manifest["jobs"]] == ["done"] * 12
    for job in manifest["jobs"]:
        for step in job["steps"]:
            for entry in step["files"]:
                data = (tmp_path / "out/race" / job["output"] / entry["name"]).read_bytes()
                assert hashlib.sha256(data).hexdigest() == entry["sha256"]
