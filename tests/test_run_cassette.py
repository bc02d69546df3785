"""A small campaign run end to end from recorded HTTP: the engine against real wire answers.

Re-record against the simulator: ``MJV_RECORD=1 pytest tests/test_run_cassette.py
--record-mode=rewrite`` (see tests/cassette_support.py for the real provider).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cassette_support import CASSETTES, target, vcr_settings
from runsupport import run_engine

from orchestrator.client import Client
from orchestrator.engine.context import RunConfig, RunReport
from orchestrator.spec import load_campaign

SPEC = """\
version: 1
campaign: taped
defaults: {mode: fast, motion: low, batch_size: 1, qc: {enabled: false}}  # 3 s taped clips
images:
  sneaker: {url: "https://cdn.example.com/sneaker.png"}
prompts:
  orbit: "slow orbit around the sneaker"
  push: "the camera pushes in on the sneaker"
jobs:
  - name: "{{ prompt }}"
    images: [sneaker]
    prompts: [orbit]
  - name: "{{ prompt }}-long"
    images: [sneaker]
    prompts: [push]
    extend:
      - {prompt: "the camera keeps pushing", motion: high}
"""


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return vcr_settings()


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES / "run")


def _run(spec: Path) -> RunReport:
    campaign = load_campaign(spec)
    with target() as where:
        # One job in flight at a time, so the order of identical requests is the recorded one.
        config = RunConfig(concurrency=1, max_rps=1000, poll_interval=where.poll_seconds)
        client = Client(where.api_key, where.base_url)
        return run_engine(campaign, client, spec.parent / ".mjv/state.db", config)


@pytest.mark.vcr
def test_small_campaign_replays_from_cassette(tmp_path: Path) -> None:
    spec = tmp_path / "taped.yaml"
    spec.write_text(SPEC)
    report = _run(spec)
    assert [o.status for o in report.outcomes] == ["done", "done"]
    assert report.submitted == 3 and report.downloaded == 3
    manifest = json.loads((tmp_path / "out/taped/manifest.json").read_text())
    by_name = {job["name"]: job for job in manifest["jobs"]}
    assert [s["step"] for s in by_name["push-long"]["steps"]] == [0, 1]
    for job in manifest["jobs"]:
        for step in job["steps"]:
            (entry,) = step["files"]
            data = (tmp_path / "out/taped" / job["output"] / entry["name"]).read_bytes()
            assert data[4:8] == b"ftyp"
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
