"""Run options: the spec's `run:` section, overridden by flags."""

from __future__ import annotations

from pathlib import Path

from runsupport import write

from orchestrator.cli import build_parser
from orchestrator.commands.run import run_config
from orchestrator.spec import load_campaign

SPEC = """\
version: 1
campaign: knobs
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit"
jobs:
  - {name: "{{ image }}", images: [a], prompts: [p]}
run: {concurrency: 7, poll_interval: 1.5, max_rps: 4, max_attempts: 2}
budget: {max_cost: 9}
"""


def _config(spec: Path, *flags: str, retry: bool = False):  # type: ignore[no-untyped-def]
    args = build_parser().parse_args(["retry" if retry else "run", str(spec), *flags])
    return run_config(load_campaign(spec), args, retry=retry)


def test_spec_run_section_sets_the_knobs(tmp_path: Path) -> None:
    config = _config(write(tmp_path / "c.yaml", SPEC))
    assert (config.concurrency, config.poll_interval, config.max_rps) == (7, 1.5, 4)
    assert (config.max_attempts, config.max_cost, config.retry_failed) == (2, 9, False)


def test_flags_override_the_spec(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    config = _config(spec, "--concurrency", "2", "--max-cost", "1", "--select", "a*")
    assert (config.concurrency, config.max_cost, config.select) == (2, 1, ("a*",))
    assert config.poll_interval == 1.5


def test_simulate_polls_fast_unless_told_otherwise(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC.replace("poll_interval: 1.5, ", ""))
    assert _config(spec, "--simulate").poll_interval == 0.5
    assert _config(spec, "--simulate", "--poll-interval", "2").poll_interval == 2


def test_retry_sets_the_retry_flags(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    config = _config(spec, "--include-final", retry=True)
    assert config.retry_failed and config.include_final
