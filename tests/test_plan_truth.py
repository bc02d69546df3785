"""Plan classes that never lie: a step of the same spec not sent yet is incomplete, not changed.

A run declares every step of the spec it runs; what stops it before a step is sent (Ctrl-C, a
budget block, a failed step) leaves that step declared and pending. Only a step the state has
never heard of (added or edited in the spec since) makes a job ``changed``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from runsupport import mjv, write

from orchestrator.engine.runner import submission_specs
from orchestrator.spec import load_campaign
from orchestrator.state import FileRecord, open_store

SPEC = """\
version: 1
campaign: truth
defaults: {batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit"
jobs:
  - name: long
    images: [a]
    prompts: [p]
    extend:
      - {prompt: "STEP1"}
      - {prompt: "STEP2"}
"""
OWNER = "host:1:test"
CLIP = b"\x00\x00\x00\x18ftypmp42 a clip"


def _base_downloaded(tmp_path: Path, spec: Path) -> None:
    """What a run leaves when it stops after the base clip, before extension 1 is sent."""
    campaign = load_campaign(spec)
    (job,) = campaign.jobs
    folder = campaign.output_dir / job.output_name
    folder.mkdir(parents=True)
    (folder / "clip-0.mp4").write_bytes(CLIP)
    with open_store(tmp_path / "state.db", campaign.name) as store:
        store.declare(submission_specs(campaign.jobs))
        key = job.fingerprint
        assert store.claim(key, OWNER, 60)
        store.record_intent(key, OWNER, 0.6)
        store.record_task(key, "1001", 0.6, owner=OWNER)
        store.record_success(key, ("https://cdn.example.com/c.mp4",), None, owner=OWNER)
        sha = hashlib.sha256(CLIP).hexdigest()
        record = FileRecord(key, 0, "clip-0.mp4", "https://cdn.example.com/c.mp4", sha, len(CLIP))
        store.record_files(key, [record], owner=OWNER)


def _plan(spec: Path, tmp_path: Path, fmt: str) -> str:
    result = mjv("plan", str(spec), "--state", str(tmp_path / "state.db"), "--format", fmt)
    assert result.code == 2, result.err
    return result.out


def test_a_step_not_sent_yet_is_incomplete_in_every_format(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    _base_downloaded(tmp_path, spec)
    text = _plan(spec, tmp_path, "text")
    assert "~ long [incomplete]" in text and "changed" not in text and "added" not in text
    (job,) = json.loads(_plan(spec, tmp_path, "json"))["jobs"]
    assert job["status"] == "incomplete" and job["why"] == []
    markdown = _plan(spec, tmp_path, "markdown")
    assert "| `long` | incomplete |" in markdown and "added" not in markdown
    status = mjv("status", str(spec), "--state", str(tmp_path / "state.db"))
    assert "changed" not in status.out, status.out


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ('      - {prompt: "STEP2"}\n', '      - {prompt: "STEP2"}\n      - {prompt: "STEP3"}\n'),
        ('{prompt: "STEP1"}', '{prompt: "STEP ONE"}'),
    ],
)
def test_a_step_added_or_edited_in_the_spec_is_changed(tmp_path: Path, edit: str, why: str) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    _base_downloaded(tmp_path, spec)
    write(spec, SPEC.replace(edit, why))
    (job,) = json.loads(_plan(spec, tmp_path, "json"))["jobs"]
    assert job["status"] == "changed" and job["why"], job
    assert "~ long [changed]" in _plan(spec, tmp_path, "text")
