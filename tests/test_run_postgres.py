"""`mjv run` with its state on PostgreSQL: the same campaign, the same guarantees."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from runsupport import charged, mjv, run_spec, simulator, write

from orchestrator.simulator import Simulator

__all__ = ["simulator"]

_SCHEMAS = itertools.count()
SPEC = """\
version: 1
campaign: shared
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3]}
    extend: [{prompt: "keep going"}]
"""


def test_a_run_on_postgres_resumes_from_the_shared_state(
    simulator: Simulator, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = f"{postgres_url}&schema=run{next(_SCHEMAS)}"
    spec = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(simulator, spec, "--state", state).code == 0
    assert sum(charged(simulator).values()) == 6
    assert not (tmp_path / ".mjv").exists()  # nothing went to a local file
    monkeypatch.setenv("MJV_STATE", state)
    again = run_spec(simulator, spec)
    assert again.code == 0 and "nothing to do" in again.out
    assert sum(charged(simulator).values()) == 6
    status = mjv("status", str(spec))
    assert "jobs: done 3" in status.out and "spent 3.60" in status.out
    assert "password" not in status.out + status.err
