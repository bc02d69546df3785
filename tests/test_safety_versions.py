"""No paid clip is lost: replaced clips are kept under versions/, listed in the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from runsupport import manifest, run_spec, simulator, write

from orchestrator.simulator import Simulator
from orchestrator.state import open_store

__all__ = ["simulator"]

ONE = """\
version: 1
campaign: keep
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit, warm light"
jobs:
  - name: "shot"
    images: [a]
    prompts: [orbit]
"""
OTHER = ONE.replace("campaign: keep", "campaign: other")
SHARED = "output: {dir: shared}\n"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _job(spec: Path) -> dict[str, object]:
    (job,) = manifest(spec, "keep")["jobs"]
    return job


def _first_run(sim: Simulator, tmp_path: Path) -> tuple[Path, str, str, Path]:
    spec = write(tmp_path / "c.yaml", ONE)
    assert run_spec(sim, spec).code == 0
    clip = tmp_path / "out/keep/shot/clip-0.mp4"
    return spec, str(_job(spec)["fingerprint"]), _sha(clip), clip


def _expected_versions(key: str, clip: Path, sha: str, size: int) -> list[dict[str, object]]:
    name = f"versions/{key[:12]}-a1/clip-0.mp4"
    assert _sha(clip.parent / name) == sha
    return [
        {
            "fingerprint": key,
            "attempt": 1,
            "files": [{"name": name, "sha256": sha, "bytes": size}],
        }
    ]


def test_a_prompt_edit_keeps_the_earlier_clip_and_lists_it(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec, old_key, old_sha, clip = _first_run(simulator, tmp_path)
    size = clip.stat().st_size
    write(spec, ONE.replace("warm light", "cold light"))
    result = run_spec(simulator, spec)
    assert result.code == 0, result.out + result.err
    job = _job(spec)
    assert job["fingerprint"] != old_key
    assert _sha(clip) != old_sha  # the new clip took the documented name
    assert job["versions"] == _expected_versions(old_key, clip, old_sha, size)


def test_force_keeps_the_earlier_clip_in_the_state_and_the_manifest(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec, key, old_sha, clip = _first_run(simulator, tmp_path)
    size = clip.stat().st_size
    result = run_spec(simulator, spec, "--force", "shot", "--yes")
    assert result.code == 0, result.out + result.err
    assert "1 submitted" in result.out
    assert _sha(clip) != old_sha
    assert _job(spec)["versions"] == _expected_versions(key, clip, old_sha, size)
    with open_store(tmp_path / ".mjv/state.db", "keep") as store:
        kept = [(v.attempt, v.file.sha256) for v in store.file_versions()]
    assert kept == [(1, old_sha)]
    before = (tmp_path / "out/keep/manifest.json").read_bytes()
    assert run_spec(simulator, spec).code == 0  # a no-op run keeps the manifest as it is
    assert (tmp_path / "out/keep/manifest.json").read_bytes() == before


def test_reverting_a_prompt_puts_the_kept_clip_back_without_paying(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec, _, old_sha, clip = _first_run(simulator, tmp_path)
    write(spec, ONE.replace("warm light", "cold light"))
    assert run_spec(simulator, spec).code == 0
    new_sha = _sha(clip)
    write(spec, ONE)
    submits = simulator.submit_requests()
    result = run_spec(simulator, spec)
    assert result.code == 0, result.out + result.err
    assert simulator.submit_requests() == submits
    assert "nothing downloaded" in result.out
    assert _sha(clip) == old_sha
    versions = _job(spec)["versions"]
    assert isinstance(versions, list)
    assert [v["files"][0]["sha256"] for v in versions] == [new_sha]


def test_an_unknown_file_in_a_clips_place_is_moved_aside_not_deleted(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec, _, _, clip = _first_run(simulator, tmp_path)
    clip.write_bytes(b"my own edit")
    assert run_spec(simulator, spec).code == 0
    sha = hashlib.sha256(b"my own edit").hexdigest()
    assert (clip.parent / f"versions/unknown-{sha[:12]}/clip-0.mp4").read_bytes() == b"my own edit"


def test_a_restore_whose_download_differs_from_the_recorded_sha_leaves_no_wrong_file(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec, _, _, clip = _first_run(simulator, tmp_path)
    path = tmp_path / "out/keep/manifest.json"
    data = json.loads(path.read_text())
    data["jobs"][0]["steps"][0]["files"][0]["sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    clip.unlink()
    for state in (tmp_path / ".mjv").iterdir():
        state.unlink()
    result = run_spec(simulator, spec)
    assert result.code == 3, result.out + result.err
    assert "does not match the recorded sha256" in result.out
    assert not clip.exists()
    assert not list(clip.parent.glob(".*.part"))


def test_two_campaigns_on_one_output_folder_are_refused(
    simulator: Simulator, tmp_path: Path
) -> None:
    first = write(tmp_path / "a.yaml", ONE + SHARED)
    assert run_spec(simulator, first).code == 0
    submits = simulator.submit_requests()
    second = write(tmp_path / "b.yaml", OTHER + SHARED)
    result = run_spec(simulator, second)
    assert result.code == 1
    assert "belongs to campaign 'keep', not 'other'" in result.err
    assert "Traceback" not in result.err
    assert simulator.submit_requests() == submits
    assert json.loads((tmp_path / "shared/manifest.json").read_text())["campaign"] == "keep"
