"""One meaning per exit code: a usage error never exits with a code that also means a result."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from runsupport import write

from orchestrator import errors
from orchestrator.cli import main

VERBS = ("validate", "plan", "run", "status", "retry", "simulate", "doctor", "state", "report")
SPEC = """\
version: 1
campaign: codes
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit"
jobs:
  - {images: [a], prompts: [p]}
"""


def _main(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    return main(list(argv), io.StringIO(), err), err.getvalue()


def test_the_codes_are_all_different() -> None:
    codes = [
        errors.EXIT_OK,
        errors.EXIT_ERROR,
        errors.EXIT_WORK,
        errors.EXIT_JOBS_FAILED,
        errors.EXIT_USAGE,
        errors.EXIT_INTERRUPTED,
    ]
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("verb", VERBS)
def test_an_unknown_option_is_a_usage_error_on_every_verb(
    verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(verb, "--typo")[0] == errors.EXIT_USAGE
    assert "error:" in capsys.readouterr().err  # argparse's own message


def test_plan_tells_a_typo_from_work_to_do(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    assert _main("plan", str(spec))[0] == errors.EXIT_WORK
    assert _main("plan", str(spec), "--typo")[0] == errors.EXIT_USAGE
    assert _main("plan", str(tmp_path / "missing.yaml"))[0] == errors.EXIT_USAGE
    assert _main("plan", str(spec), "--format", "yaml")[0] == errors.EXIT_USAGE
