"""Check one clip: decode it once, streaming, into its scores, verdict and pictures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.qc.decode import (
    Frame,
    Grey,
    StreamInfo,
    UndecodableError,
    image_grey,
    last_grey,
    stream_frames,
)
from orchestrator.qc.rules import Expected, QcResult, QcRules, Score, judge
from orchestrator.qc.scores import FrameStats, ssim
from orchestrator.qc.thumbs import ThumbCollector


@dataclass(frozen=True)
class ClipCheck:
    """One clip to check and the pictures it is compared with."""

    path: Path
    rules: QcRules
    expected: Expected
    start_image: Path | None = None  # a local start image (base clips)
    end_image: Path | None = None  # a local end image (base clips)
    loop: bool = False  # base clip of a loop: its last frame should meet its first
    parent: Path | None = None  # the clip an extension continues
    thumbs: bool = True


def check_clip(check: ClipCheck) -> QcResult:
    """Decode ``check.path`` and judge it; an undecodable file is a failed result, not an error."""
    try:
        info, frames = stream_frames(check.path)
        stats, collector = _gather(check, info, frames)
    except UndecodableError as exc:
        scores: dict[str, Score] = {"decodes": False}
        return QcResult(False, (f"does not decode: {exc}",), scores)
    if stats.frames == 0:
        return QcResult(False, ("does not decode: no frames",), {"decodes": False})
    scores = {"decodes": True, "width": info.width, "height": info.height}
    scores |= {"fps": round(info.fps, 3), **stats.finish()}
    scores |= _similarities(check, stats)
    thumbs = collector.write(check.path.parent, check.path.stem) if collector else ()
    reasons = judge(check.rules, scores, check.expected)
    return QcResult(not reasons, reasons, scores, thumbs)


def _gather(
    check: ClipCheck, info: StreamInfo, frames: Iterator[Frame]
) -> tuple[FrameStats, ThumbCollector | None]:
    stats = FrameStats(info.fps)
    if check.parent is not None:
        parent = last_grey(check.parent)
        if parent is not None:
            stats.join, stats.parent_last = parent[1], parent[0]
    expected = info.frames or round(info.fps * check.expected.seconds)
    collector = ThumbCollector(expected) if check.thumbs else None
    for frame in frames:
        stats.add(frame)
        if collector is not None:
            collector.add(frame.number, frame.picture)
    return stats, collector


def _similarities(check: ClipCheck, stats: FrameStats) -> dict[str, Score]:
    first, last = stats.first, stats.last
    assert first is not None and last is not None  # frames > 0
    found: dict[str, Score] = {}
    if check.start_image is not None:
        found |= _to_image("start_similarity", first, check.start_image)
    if check.end_image is not None:
        found |= _to_image("end_similarity", last, check.end_image)
    elif check.loop:
        found["end_similarity"] = ssim(last, first)
    if stats.parent_last is not None and stats.join is not None:
        # A clip holding its parent continues it at the join; a clip of only the new seconds
        # continues it from its first frame.
        joined = stats.at_join if stats.duration() > stats.join + 1.0 else None
        found["continuity"] = ssim(first if joined is None else joined, stats.parent_last)
    return found


def _to_image(name: str, frame: Grey, image: Path) -> dict[str, Score]:
    height, width = frame.shape
    picture = image_grey(image, width, height)
    return {} if picture is None else {name: ssim(frame, picture)}
