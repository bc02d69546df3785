"""The CLI's boundaries: internal errors in one line, and readers of stdout/stderr that go away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from runsupport import FAST, mjv, simulator, subprocess_env, write

from orchestrator.commands import status
from orchestrator.simulator import Simulator

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: pipes
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: "{{ image }}"
    images: [a, b]
    prompts: [orbit]
"""
NOISE = ("Traceback", "BrokenPipe", "Exception ignored")


def _boom(*args: object) -> int:
    raise RuntimeError("boom")


def test_an_internal_error_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "run", _boom)
    result = mjv("status", "c.yaml")
    assert result.code == 1
    assert result.err == (
        "mjv: internal error in 'status': RuntimeError: boom; please report it "
        "(run with --debug for the traceback)\n"
    )


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "run", _boom)
    result = mjv("--debug", "status", "c.yaml")
    assert result.code == 1
    assert result.err.startswith("Traceback (most recent call last):")
    assert "in _boom" in result.err and result.err.endswith("--debug for the traceback)\n")


def test_keyboard_interrupt_stays_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(status, "run", interrupted)
    assert mjv("status", "c.yaml").code == 130


def _child(sim: Simulator, spec: Path, prefix: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    command = [*prefix, sys.executable, "-m", "orchestrator", "run", str(spec), *FAST]
    return subprocess.Popen(
        command, env=subprocess_env(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _all_done(spec: Path) -> None:
    shown = mjv("status", str(spec), "--format", "json")
    assert shown.code == 0, shown.err
    assert '"done": 2' in shown.out
    data = json.loads((spec.parent / "out/pipes/manifest.json").read_text())
    assert [job["status"] for job in data["jobs"]] == ["done", "done"]


def test_a_closed_stdout_pipe_neither_hangs_nor_kills_the_run(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with _child(simulator, spec) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # `| head -0`: the reader is gone before the summary is written
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0, err
    assert not any(word in err for word in NOISE), err
    _all_done(spec)


def test_a_closed_stderr_pipe_neither_hangs_nor_kills_the_run(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with _child(simulator, spec) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stderr.close()  # progress lines now meet a broken pipe
        out = proc.stdout.read().decode()
        assert proc.wait(timeout=60) == 0, out
    assert "pipes: 2/2 jobs done" in out
    _all_done(spec)


def test_a_stderr_closed_from_the_start_is_no_crash(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    proc = _child(simulator, spec, ("sh", "-c", 'exec "$0" "$@" 2>&-'))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "pipes: 2/2 jobs done" in out.decode()
    _all_done(spec)


def test_closed_standard_descriptors_are_filled_so_no_file_takes_their_number() -> None:
    # A file opened later (the state, a clip) must never become fd 2, where stray writes land.
    probe = "import os; from orchestrator.cli import main; main(['status', 'x.yaml']); os.fstat(2)"
    command = ["sh", "-c", 'exec "$0" -c "$1" 2>&-', sys.executable, probe]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
