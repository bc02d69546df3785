"""Preflight: a run that could not save its clips submits nothing; stale temp files go."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from runsupport import run_spec, simulator, write

from orchestrator import atomic
from orchestrator.engine import preflight as preflight_module
from orchestrator.engine.downloads import remove_stale_parts
from orchestrator.engine.preflight import MB, clip_bytes, expected_bytes
from orchestrator.model import Settings
from orchestrator.simulator import Simulator
from orchestrator.spec import load_campaign

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: pre
defaults: {mode: fast, motion: low, batch_size: 2}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: "shot"
    images: [a]
    prompts: [orbit]
    extend:
      - {prompt: "keeps orbiting"}
"""


def _nothing_sent(sim: Simulator) -> None:
    assert sim.submit_requests() == 0
    assert sim.total_requests() == 0


def test_an_output_folder_that_cannot_be_created_submits_nothing(
    simulator: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    spec = write(tmp_path / "c.yaml", SPEC + "output: {dir: blocker/out}\n")
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert "output folder" in result.err and "cannot be created" in result.err
    assert "nothing was submitted" in result.err and "Traceback" not in result.err
    _nothing_sent(simulator)


def test_a_read_only_output_folder_submits_nothing(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores chmod, so the writability probe itself is patched for the output folder.
    monkeypatch.setattr(preflight_module, "writable", lambda path: "out" not in path.parts)
    spec = write(tmp_path / "c.yaml", SPEC)
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert "is not writable" in result.err and "nothing was submitted" in result.err
    _nothing_sent(simulator)


def test_a_read_only_state_file_submits_nothing(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight_module, "writable", lambda path: ".mjv" not in path.parts)
    spec = write(tmp_path / "c.yaml", SPEC)
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert "state file" in result.err and "is not writable" in result.err
    _nothing_sent(simulator)


def test_too_little_free_space_submits_nothing(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []

    def tiny(folder: Path) -> int:
        seen.append(folder)
        return 80 * MB  # the spare 64 MB fit, the 4 expected clips do not

    monkeypatch.setattr(preflight_module, "free_bytes", tiny)
    spec = write(tmp_path / "c.yaml", SPEC)
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert "not enough free space" in result.err and "4 clip(s)" in result.err
    assert seen == [tmp_path / "out/pre"]
    _nothing_sent(simulator)


def test_the_estimate_counts_batch_size_times_the_steps_left() -> None:
    campaign = load_campaign(write(Path("c.yaml"), SPEC))
    (job,) = campaign.jobs
    clips, size = expected_bytes(campaign.jobs, {})
    assert clips == 4
    assert size == 2 * clip_bytes(job.settings, 0) + 2 * clip_bytes(job.settings, 1)
    assert clip_bytes(Settings(), 0) == 5 * MB  # 5 s at 1 MB/s (480p)
    assert clip_bytes(Settings(video_type="vid_1.1_i2v_720"), 1) == int(22.5 * MB)  # 9 s at 2.5


def test_the_clip_size_estimate_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJV_CLIP_MB_PER_SECOND", "0.5")
    assert clip_bytes(Settings(), 0) == int(2.5 * MB)
    monkeypatch.setenv("MJV_CLIP_MB_PER_SECOND", "nonsense")
    assert clip_bytes(Settings(), 0) == 5 * MB


def test_part_files_nobody_holds_are_removed_by_a_run(simulator: Simulator, tmp_path: Path) -> None:
    # Issue 17 item 6: a killed run's temp file goes whatever its age (it used to stay for
    # 10 minutes); one a live writer holds locked stays, and so does a file not of ours.
    folder = tmp_path / "out/pre/shot"
    (folder / "versions/old").mkdir(parents=True)
    stale = folder / ".clip-0.mp4.0123456789abcdef.part"
    deep = folder / "versions/old/.clip-0.mp4.0123456789abcdee.part"
    held = folder / ".clip-1.mp4.fedcba9876543210.part"
    mine = folder / "notes.part"
    for path in (stale, deep, held, mine):
        path.write_bytes(b"half a clip")
        os.utime(path, (time.time() - 60, time.time() - 60))
    with _held(held):
        result = run_spec(simulator, write(tmp_path / "c.yaml", SPEC))
    assert result.code == 0, result.out + result.err
    assert not stale.exists() and not deep.exists()
    assert held.exists() and mine.exists()
    assert not [p for p in (tmp_path / "out").rglob("*.part") if p not in (held, mine)]


@contextlib.contextmanager
def _held(path: Path) -> Iterator[None]:
    """Hold ``path`` locked, as a live download does."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_remove_stale_parts_spares_held_and_just_made_temp_files(tmp_path: Path) -> None:
    held = tmp_path / ".clip-0.mp4.0123456789abcdef.part"
    new = tmp_path / ".clip-1.mp4.0123456789abcdef.part"
    held.write_bytes(b"being written")
    new.write_bytes(b"made this instant, not locked yet")
    os.utime(held, (time.time() - 60, time.time() - 60))
    with _held(held):
        assert remove_stale_parts(tmp_path) == 0
    assert held.exists() and new.exists()
    assert remove_stale_parts(tmp_path) == 1 and not held.exists()
    assert remove_stale_parts(tmp_path, grace=0) == 1 and not new.exists()
    assert remove_stale_parts(tmp_path / "missing") == 0


def test_a_failed_manifest_write_keeps_the_summary(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(temp: Path, chunks: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "_write", full_disk)
    result = run_spec(simulator, write(tmp_path / "c.yaml", SPEC))
    assert result.code == 1
    assert "pre: 1/1 jobs done, 2 submitted, 4 clips downloaded" in result.out
    assert "cannot write the manifest" in result.err and "No space left" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("blocked", ["shot/versions", "shot"])
def test_a_file_in_place_of_a_job_or_versions_folder_stops_before_paying(
    simulator: Simulator, tmp_path: Path, blocked: str
) -> None:
    (tmp_path / "out/pre" / blocked).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "out/pre" / blocked).write_text("in the way")
    result = run_spec(simulator, write(tmp_path / "c.yaml", SPEC))
    assert result.code == 1 and "Traceback" not in result.err
    assert f"job shot: {tmp_path / 'out/pre' / blocked} cannot be made" in result.err
    assert simulator.submit_requests() == 0
