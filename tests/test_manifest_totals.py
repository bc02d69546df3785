"""The manifest's totals count exactly what its job entries list (they are made apart)."""

from __future__ import annotations

from pathlib import Path

from memprovider import Clock, MemoryProvider, memory_run
from runsupport import write

from orchestrator.engine.context import RunConfig
from orchestrator.engine.manifest import build_manifest
from orchestrator.model import JobStatus
from orchestrator.qc.rules import QcResult
from orchestrator.results import Manifest
from orchestrator.simulator import SimulatorConfig
from orchestrator.spec import load_campaign
from orchestrator.state import QcRecord, open_store

SPEC = """\
version: 1
campaign: totals
defaults:
  qc: {enabled: false}  # the checks run on real threads, which the virtual clock cannot see
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4, 5, 6, 7, 8]}
    extend: [{prompt: "keep going"}]
"""


def _counted(manifest: Manifest) -> tuple[int, int, int, int]:
    """Jobs, done jobs, files and bytes, summed over the entries themselves."""
    entries = list(manifest.jobs)
    files = [f for entry in entries for f in entry.files()]
    done = sum(entry.status == JobStatus.DONE for entry in entries)
    return len(entries), done, len(files), sum(f.bytes or 0 for f in files)


def test_totals_match_the_entries_with_failures_extensions_and_checks(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    clock = Clock()
    config = SimulatorConfig(job_seconds=5, slots=4, fail_rate=0.3, seed=3)
    state = tmp_path / "state.db"
    memory_run(spec, MemoryProvider(config, clock), clock, RunConfig(poll_interval=1.0), state)
    campaign = load_campaign(spec)
    with open_store(state, campaign.name) as store:
        files = [record for listed in store.all_files().values() for record in listed]
        checked = QcResult(passed=False, reasons=("frozen",), scores={})
        store.record_qc(
            QcRecord(files[0].key, files[0].index, files[0].sha256, False, checked.to_json())
        )
        manifest = build_manifest(campaign, store.snapshot())
    totals = manifest.totals
    jobs, done, count, size = _counted(manifest)
    assert 0 < done < jobs  # some jobs failed, some are done
    assert (totals.jobs, totals.done, totals.files, totals.bytes) == (jobs, done, count, size)
    assert any("qc" in f.extra for entry in manifest.jobs for f in entry.files())
