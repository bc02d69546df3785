"""The scores of frames taken a block at a time are those of plain frame-by-frame arithmetic,
wherever a still stretch, a black frame or the motion lag falls against the blocks; the
pictures are a convenience that a full disk leaves out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orchestrator import atomic
from orchestrator.qc.check import ClipCheck, check_clip
from orchestrator.qc.decode import Frame
from orchestrator.qc.rules import Expected, QcRules
from orchestrator.qc.scores import (
    BLACK_PIXEL,
    BLACK_SHARE,
    BLOCK,
    FREEZE_NOISE,
    FREEZE_SECONDS,
    FrameStats,
)
from orchestrator.simulator.footage import SD_SIZE, footage, picture_of

FPS = 24.0


def _reference(greys: list[np.ndarray], fps: float) -> dict[str, float | int]:
    """The scores as the issue defines them, one frame after another."""
    size, lag = greys[0].size, max(1, round(fps * 0.25))
    mad = [
        float(np.abs(greys[n].astype(int) - greys[n - 1]).sum()) / size
        for n in range(1, len(greys))
    ]
    motion = [
        float(np.abs(greys[n].astype(int) - greys[n - lag]).sum()) / size / 255
        for n in range(lag, len(greys))
    ]
    black = sum(np.count_nonzero(g < BLACK_PIXEL) >= BLACK_SHARE * size for g in greys)
    frozen, since, ref = 0.0, 0.0, greys[0]
    for n, grey in enumerate(greys[1:], 1):
        if float(np.abs(grey.astype(int) - ref).sum()) / size / 255 > FREEZE_NOISE:
            frozen += n / fps - since if n / fps - since >= FREEZE_SECONDS else 0.0
            since, ref = n / fps, grey
    end = len(greys) / fps
    frozen += end - since if end - since >= FREEZE_SECONDS else 0.0
    return {
        "duration": round(end, 3),
        "frames": len(greys),
        "frozen": round(min(1.0, frozen / end), 4),
        "black": round(black / len(greys), 4),
        "flicker": round((255 - sum(mad) / max(1, len(greys) - 1)) / 255, 4),
        "motion": round(sum(motion) / len(motion), 5) if motion else 0.0,
    }


def _clip(pattern: str) -> list[np.ndarray]:
    """Frames by letter: m moves, s repeats the frame before, d drifts from it by less than the
    freeze noise (a few of them together do not), b is black."""
    rng = np.random.default_rng(7)
    base = rng.integers(40, 220, (20, 30)).astype(np.uint8)
    frames, current = [], base
    for n, kind in enumerate(pattern):
        if kind == "m":
            current = np.roll(base, n, axis=1)
        if kind == "d":
            current = current.copy()
            current[n % 20, n % 30] = min(255, int(current[n % 20, n % 30]) + 60)
        frames.append(np.zeros_like(base) + 5 if kind == "b" else current)
    return frames


@pytest.mark.parametrize(
    "pattern",
    [
        "m" * 130,  # blocks and a part of one
        "m" * 10 + "s" * 60 + "m" * 50,  # a still stretch across two block edges
        "m" * (BLOCK - 1) + "s" * 49 + "b" * 30 + "m" * 5,  # a stretch starting at an edge
        "s" * 100,  # still from the first frame to the last
        "mmm",  # shorter than the motion lag
        "m" * 40 + "s" * 47 + "m",  # a stretch just under 2 s
        "m" * 10 + "d" * 80 + "m" * 10,  # a slow drift: each frame still, a few of them not
        "s" * 30 + "d" * 60 + "s" * 60,
    ],
)
def test_block_scores_are_the_frame_by_frame_scores(pattern: str) -> None:
    greys = _clip(pattern)
    stats = FrameStats(FPS)
    for number, grey in enumerate(greys):
        stats.add(Frame(number, number / FPS, grey, None))
    assert stats.finish() == _reference(greys, FPS)
    assert stats.first is not None and stats.last is not None
    assert (stats.first == greys[0]).all() and (stats.last == greys[-1]).all()


def test_the_frame_at_the_join_is_kept_across_blocks() -> None:
    greys = _clip("m" * 100)
    stats = FrameStats(FPS)
    stats.join = 50 / FPS
    for number, grey in enumerate(greys):
        stats.add(Frame(number, number / FPS, grey, None))
    stats.finish()
    assert stats.at_join is not None and (stats.at_join == greys[50]).all()


def test_pictures_that_cannot_be_written_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(temp: Path, chunks: object, **_: object) -> str:
        raise OSError(28, "No space left on device")

    clip = tmp_path / "clip-0.mp4"
    clip.write_bytes(footage(picture_of(None, "x", SD_SIZE), 5.0))
    monkeypatch.setattr(atomic, "_fill", full_disk)
    result = check_clip(ClipCheck(clip, QcRules(), Expected.of(0, "vid_1.1_i2v_480")))
    assert result.passed and result.thumbs == () and "motion" in result.scores
    assert not (tmp_path / "thumbs").exists() or not list((tmp_path / "thumbs").iterdir())
