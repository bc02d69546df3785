"""The manifest's read model: the written file matches its schema and reads back unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from runsupport import run_spec, simulator, write

from orchestrator.engine.manifest import ManifestError, read_results, render_manifest
from orchestrator.model import JobStatus
from orchestrator.results import Manifest
from orchestrator.simulator import Simulator
from orchestrator.simulator.media import PNG
from orchestrator.state import Status

__all__ = ["simulator"]

SCHEMA = Path(__file__).resolve().parent.parent / "schema" / "manifest.schema.json"
SPEC = """\
version: 1
campaign: model
defaults: {mode: fast, motion: low, batch_size: 2}
pricing: {fast: 0.5, imagine: 0.1, upscale: 0.05}
images:
  bottle: {file: assets/bottle.png}
  castle: {imagine: "a castle on a hill at dawn", pick: 2}
  web: {url: "https://cdn.example.com/a.png"}
prompts:
  push: "the camera pushes in, {{ mood }}"
jobs:
  - name: "{{ image }}-{{ mood }}"
    images: [bottle, castle, web]
    prompts: [push]
    matrix: {mood: [warm, cold]}
    extend: [{prompt: "and rises", index: 1}]
"""


def _ran(sim: Simulator, tmp_path: Path) -> Path:
    """A campaign run twice (the second run forcing one job): every part of a manifest."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets/bottle.png").write_bytes(PNG)
    spec = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(sim, spec).code == 0
    assert run_spec(sim, spec, "--force", "web-warm", "--yes").code == 0
    return tmp_path / "out" / "model" / "manifest.json"


def _errors(data: Any) -> list[str]:
    validator = Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def test_the_written_manifest_matches_its_schema_and_reads_back_byte_for_byte(
    simulator: Simulator, tmp_path: Path
) -> None:
    path = _ran(simulator, tmp_path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert _errors(data) == []
    assert {source["kind"] for source in data["sources"]} == {"upload", "imagine", "upscale"}
    assert [job["name"] for job in data["jobs"] if "versions" in job] == ["web-warm"]
    manifest = read_results(path, "model")
    assert manifest is not None
    assert render_manifest(manifest.to_json()) == text
    job = next(job for job in manifest.jobs if job.name == "castle-cold")
    assert job.status is JobStatus.DONE and job.matrix == (("mood", "cold"),)
    assert [step.status for step in job.steps] == [Status.DOWNLOADED, Status.DOWNLOADED]
    assert manifest.totals.spent == data["totals"]["spent"] > 0


def test_the_schema_refuses_what_mjv_never_writes(simulator: Simulator, tmp_path: Path) -> None:
    data = json.loads(_ran(simulator, tmp_path).read_text(encoding="utf-8"))
    data["jobs"][0]["steps"][0]["status"] = "done"  # a job status where a step's belongs
    del data["totals"]["spent"]
    assert len(_errors(data)) == 2


def _one_job(**fields: Any) -> dict[str, Any]:
    step = {"step": 0, "status": "downloaded", "files": [_file()]}
    job = {"name": "j1", "status": "done", "steps": [step], **fields}
    return {"manifest_version": 1, "campaign": "c", "jobs": [job]}


def _file(**extra: Any) -> dict[str, Any]:
    return {"index": 0, "name": "clip-0.mp4", "url": "u", "sha256": "s", "bytes": 3, **extra}


def test_unknown_keys_of_a_file_record_are_kept() -> None:
    data = _one_job()
    data["jobs"][0]["steps"][0]["files"] = [_file(qc={"verdict": "ok", "frames": 120})]
    manifest = Manifest.from_json(data)
    (record,) = manifest.jobs[0].steps[0].files
    assert record.extra == {"qc": {"verdict": "ok", "frames": 120}}
    assert record.to_json()["qc"] == {"verdict": "ok", "frames": 120}


def test_what_an_older_manifest_leaves_out_reads_as_an_unrun_job() -> None:
    job = Manifest.from_json(_one_job()).jobs[0]
    assert (job.output, job.take, job.cost, job.image, job.matrix) == ("j1", 1, None, None, ())
    assert job.steps[0].fingerprint is None and job.steps[0].motion == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"take": "second"}, "job j1: unexpected manifest content: 'take' should be an integer"),
        ({"status": "great"}, "job j1: unexpected manifest content: 'status' is not a known"),
        ({"steps": {}}, "job j1: unexpected manifest content: 'steps' should be a list"),
        ({"cost": True}, "job j1: unexpected manifest content: 'cost' should be a number"),
    ],
)
def test_a_wrong_field_names_its_job_and_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=f"^{message}"):
        Manifest.from_json(_one_job(**fields))


def test_a_wrong_field_read_from_a_file_names_the_file(tmp_path: Path) -> None:
    data = _one_job()
    data["jobs"][0]["steps"][0]["files"][0]["bytes"] = "3"
    path = write(tmp_path / "manifest.json", json.dumps(data))
    with pytest.raises(ManifestError, match=r"manifest.json: job j1: steps\[0\]: files\[0\]: "):
        read_results(path)
