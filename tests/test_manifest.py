"""The manifest's text form: canonical, one job per line, and valid JSON that reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.engine.manifest import (
    ManifestError,
    OutputCollisionError,
    read_manifest,
    render_manifest,
    write_manifest,
)

MANIFEST = {
    "manifest_version": 1,
    "campaign": "c",
    "totals": {"jobs": 2, "done": 1},
    "jobs": [{"name": "a", "steps": [], "z": 1, "b": 2}, {"name": "b", "steps": []}],
}


def test_render_is_valid_json_with_one_job_per_line_and_sorted_keys() -> None:
    text = render_manifest(MANIFEST)
    assert json.loads(text) == MANIFEST
    lines = text.splitlines()
    assert (
        lines[0]
        == '{"campaign": "c", "manifest_version": 1, "totals": {"done": 1, "jobs": 2}, "jobs": ['
    )
    assert lines[1] == '  {"b": 2, "name": "a", "steps": [], "z": 1},'
    assert lines[2] == '  {"name": "b", "steps": []}'
    assert lines[3] == "]}"


def test_render_without_jobs_is_plain_json() -> None:
    empty = {**MANIFEST, "jobs": []}
    assert json.loads(render_manifest(empty)) == empty


def test_write_is_a_no_op_when_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "out" / "manifest.json"
    assert write_manifest(path, MANIFEST) is True
    stamp = path.stat().st_mtime_ns
    assert write_manifest(path, MANIFEST) is False
    assert path.stat().st_mtime_ns == stamp
    assert read_manifest(path) == MANIFEST
    assert not list(path.parent.glob(".*"))  # no temp file left behind


@pytest.mark.parametrize(
    ("text", "message"),
    [("{broken", "not valid JSON"), ('{"manifest_version": 99}', "not an mjv manifest")],
)
def test_unreadable_manifest_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(ManifestError, match=message):
        read_manifest(path)
    assert path.read_text() == text


def test_missing_manifest_reads_as_none(tmp_path: Path) -> None:
    assert read_manifest(tmp_path / "manifest.json") is None


def test_streamed_bytes_equal_the_rendered_text(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    for manifest in (
        MANIFEST,
        {**MANIFEST, "jobs": []},
        {**MANIFEST, "jobs": MANIFEST["jobs"][:1]},
    ):
        write_manifest(path, manifest)
        assert path.read_bytes() == render_manifest(manifest).encode("utf-8")


def test_a_changed_manifest_is_rewritten_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    write_manifest(path, MANIFEST)
    changed = {**MANIFEST, "totals": {"jobs": 2, "done": 2}}
    assert write_manifest(path, changed) is True
    assert read_manifest(path) == changed
    assert not list(tmp_path.glob(".*"))


def test_a_manifest_of_another_campaign_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    write_manifest(path, MANIFEST)
    assert read_manifest(path, "c") == MANIFEST
    with pytest.raises(OutputCollisionError, match="belongs to campaign 'c', not 'd'"):
        read_manifest(path, "d")
