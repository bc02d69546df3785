"""`--simulate` behaves as against a long-lived provider: its world survives the process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runsupport import mjv, write

SPEC = """\
version: 1
campaign: demo
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4]}
    extend: [{prompt: "keep going"}]
"""
FAST = ("--poll-interval", "0.05", "--max-rps", "100")


@pytest.fixture(autouse=True)
def _quick_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJV_SIMULATE_JOB_SECONDS", "0.05")


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ, PYTHONUNBUFFERED="1", MJV_SIMULATE_JOB_SECONDS="0.3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def test_ctrl_c_and_resume_meet_the_same_simulated_tasks(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", str(spec), "--simulate", *FAST],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # stop once a task is in flight at the simulated provider
        if "submitted" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert (tmp_path / ".mjv/state-simulated.world.jsonl").is_file()
    resumed = mjv("run", str(spec), "--simulate", *FAST)
    assert resumed.code == 0, resumed.out + resumed.err
    assert "task not found" not in resumed.out + resumed.err
    status = mjv("status", str(spec), "--simulate")
    assert "jobs: done 4" in status.out
    plan = mjv("plan", str(spec), "--simulate")
    assert plan.code == 0 and "4 jobs, 0 to do" in plan.out


def test_an_edited_extension_extends_a_task_of_an_earlier_process(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    assert mjv("run", str(spec), "--simulate", *FAST).code == 0
    write(spec, SPEC.replace("keep going", "pull back"))
    plan = mjv("plan", str(spec), "--simulate")
    assert plan.code == 2 and "4 video submissions" in plan.out
    edited = mjv("run", str(spec), "--simulate", *FAST)
    assert edited.code == 0, edited.out + edited.err
    assert "parent task not found" not in edited.out + edited.err
    assert "4 submitted" in edited.out


def test_plan_and_status_without_simulate_do_not_see_simulated_work(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    assert mjv("run", str(spec), "--simulate", *FAST).code == 0
    assert mjv("plan", str(spec)).code == 2  # nothing real has run
    assert "jobs: new 4" in mjv("status", str(spec)).out


def test_a_deleted_simulated_output_folder_is_restored_from_the_manifest(tmp_path: Path) -> None:
    import shutil

    spec = write(tmp_path / "c.yaml", SPEC)
    assert mjv("run", str(spec), "--simulate", *FAST).code == 0
    for name in ("state-simulated.db", "state-simulated.db-wal", "state-simulated.db-shm"):
        (tmp_path / ".mjv" / name).unlink(missing_ok=True)  # the state is lost too
    out = tmp_path / "out" / "demo-simulated"
    manifest = (out / "manifest.json").read_bytes()
    shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "manifest.json").write_bytes(manifest)
    restored = mjv("run", str(spec), "--simulate", *FAST)
    assert restored.code == 0, restored.out + restored.err
    assert "0 submitted, 8 clips downloaded" in restored.out
    assert len(list(out.rglob("*.mp4"))) == 8
