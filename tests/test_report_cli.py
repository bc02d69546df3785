"""`mjv report` from the command line: where its data comes from, where it writes, errors."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path

import pytest
from runsupport import mjv, run_spec, simulator, write

from orchestrator.errors import EXIT_USAGE
from orchestrator.simulator import Simulator

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: rep
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: "job-{{ take }}"
    images: [a]
    prompts: [orbit]
    takes: 2
"""


def _videos(page: Path) -> int:
    return page.read_text(encoding="utf-8").count("<video ")


def test_before_any_run_every_job_is_pending(tmp_path: Path) -> None:
    spec = write(tmp_path / "spec.yaml", SPEC)
    result = mjv("report", str(spec))
    page = tmp_path / "out" / "rep" / "report.html"
    assert result.code == 0, result.err
    assert result.out == f"report: {page}\n"
    text = page.read_text(encoding="utf-8")
    assert text.count('<article class="card"') == 2 and "no clips yet" in text
    assert not (tmp_path / ".mjv").exists()  # looking never creates a state file


def test_after_a_run_the_state_gives_the_clips(tmp_path: Path, simulator: Simulator) -> None:
    spec = write(tmp_path / "spec.yaml", SPEC)
    ran = run_spec(simulator, spec)
    page = tmp_path / "out" / "rep" / "report.html"
    assert ran.code == 0 and f"report: {page}\n" in ran.out  # the run refreshes the report
    assert _videos(page) == 2
    page.unlink()
    assert mjv("report", str(spec)).code == 0
    assert _videos(page) == 2


def test_the_committed_manifest_when_there_is_no_state(tmp_path: Path) -> None:
    spec = write(tmp_path / "spec.yaml", SPEC)
    files = [{"index": 0, "name": "clip-0.mp4", "url": "u", "sha256": "s", "bytes": 9}]
    step = {"step": 0, "prompt": "p", "motion": "low", "index": 0, "status": "downloaded"}
    job = {
        "name": "job-1",
        "output": "job-1",
        "status": "done",
        "steps": [{**step, "files": files}],
    }
    manifest = {"manifest_version": 1, "campaign": "rep", "jobs": [job]}
    write(tmp_path / "out" / "rep" / "manifest.json", json.dumps(manifest))
    assert mjv("report", str(spec)).code == 0
    text = (tmp_path / "out" / "rep" / "report.html").read_text(encoding="utf-8")
    assert 'src="job-1/clip-0.mp4"' in text and text.count('<article class="card"') == 2


def test_simulate_and_state_flags(tmp_path: Path, simulator: Simulator) -> None:
    spec = write(tmp_path / "spec.yaml", SPEC)
    state = tmp_path / "elsewhere.db"
    assert run_spec(simulator, spec, "--state", str(state)).code == 0
    assert mjv("report", str(spec), "--simulate").code == 0
    assert _videos(tmp_path / "out" / "rep-simulated" / "report.html") == 0
    (tmp_path / "out" / "rep" / "manifest.json").unlink()
    assert mjv("report", str(spec)).code == 0
    assert _videos(tmp_path / "out" / "rep" / "report.html") == 0
    assert mjv("report", str(spec), "--state", str(state)).code == 0
    assert _videos(tmp_path / "out" / "rep" / "report.html") == 2


def test_a_broken_manifest_is_a_clear_error(tmp_path: Path) -> None:
    spec = write(tmp_path / "spec.yaml", SPEC)
    manifest = write(tmp_path / "out" / "rep" / "manifest.json", "{not json")
    result = mjv("report", str(spec))
    assert result.code == 1
    assert result.err.startswith(f"mjv: error: {manifest}:1:2: not valid JSON")
    bad = {"manifest_version": 1, "jobs": [{"name": "job-1", "take": "second"}]}
    manifest.write_text(json.dumps(bad), encoding="utf-8")
    result = mjv("report", str(spec))
    assert result.code == 1
    assert result.err.startswith(f"mjv: error: {manifest}: job job-1: unexpected manifest content")
    assert "Traceback" not in result.err


def test_a_missing_state_file_given_by_flag_is_an_error(tmp_path: Path) -> None:
    spec = write(tmp_path / "spec.yaml", SPEC)
    result = mjv("report", str(spec), "--state", str(tmp_path / "typo.db"))
    assert result.code == EXIT_USAGE
    assert result.err == f"mjv: error: {tmp_path / 'typo.db'}: no such state file\n"
    assert not (tmp_path / "typo.db").exists()


def test_a_report_that_cannot_be_written_does_not_fail_the_run(
    tmp_path: Path, simulator: Simulator
) -> None:
    spec = write(tmp_path / "spec.yaml", SPEC)
    (tmp_path / "out" / "rep" / "report.html").mkdir(parents=True)  # in the way
    ran = run_spec(simulator, spec)
    assert ran.code == 0
    assert "report: not written: " in ran.out and "cannot write the report" in ran.out


def test_open_hands_the_page_to_the_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    spec = write(tmp_path / "spec.yaml", SPEC)
    assert mjv("report", str(spec), "--open").code == 0
    assert opened == [(tmp_path / "out" / "rep" / "report.html").as_uri()]
    assert mjv("report", str(spec)).code == 0 and len(opened) == 1
