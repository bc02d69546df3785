"""Changing verdicts (pure): approve, reject, rate, note, unreview; one approval per step."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from orchestrator.errors import UsageError
from orchestrator.qc.takes import may_approve as clip_may_be_approved
from orchestrator.review.current import Clip
from orchestrator.review.names import clip_step
from orchestrator.review.reviewfile import APPROVED, Review, Verdict

T = TypeVar("T")


@dataclass(frozen=True)
class Change:
    """What one edit sets on one clip; a field left None keeps what the clip had."""

    verdict: str | None = None  # approved | rejected | "" (unreviewed)
    stars: int | None = None  # 1..5, 0 clears
    note: str | None = None  # "" clears


class ApprovalRefusedError(UsageError):
    """A clip that may not be approved (see ``may_approve``)."""


def may_approve(clip: Clip, force: bool = False) -> str | None:
    """Why ``clip`` may not be approved, or None when it may.

    A clip that failed its quality checks is refused unless ``force``.
    """
    if clip_may_be_approved(clip.check, force=force):
        return None
    reasons = "; ".join(clip.check.reasons) if clip.check else ""
    return f"it failed its checks ({reasons}); approve it anyway with --force"


def apply_change(review: Review, clip: Clip, change: Change, by: str, at: str) -> Review:
    """``review`` with ``change`` made to ``clip`` (approving it withdraws its siblings')."""
    verdicts = dict(review.verdicts)
    old = review.on(clip.path, clip.sha256)
    verdict = _pick(change.verdict, old.verdict if old else None)
    stars = _pick(change.stars, old.stars if old else None)
    note = _pick(change.note, old.note if old else None)
    if verdict == APPROVED:
        for sibling in _siblings(review, clip.path):
            verdicts[sibling.clip] = replace(sibling, verdict=None, by=by, at=at)
    fresh = Verdict(clip.path, clip.sha256, verdict or None, stars or None, note or None, by, at)
    if fresh.verdict or fresh.stars or fresh.note:
        verdicts[clip.path] = fresh
    else:
        verdicts.pop(clip.path, None)
    return Review(_pruned(verdicts))


def _pick(new: T | None, old: T | None) -> T | None:
    return old if new is None else new


def _siblings(review: Review, path: str) -> list[Verdict]:
    """Approved clips of the same step of the same job, ``path`` aside."""
    folder, step, _ = clip_step(path)
    return [
        v
        for v in review.verdicts.values()
        if v.verdict == APPROVED and v.clip != path and clip_step(v.clip)[:2] == (folder, step)
    ]


def _pruned(verdicts: dict[str, Verdict]) -> dict[str, Verdict]:
    """Entries that still say something (a withdrawn approval without stars or note goes)."""
    return {path: v for path, v in verdicts.items() if v.verdict or v.stars or v.note}


def unreview(review: Review, paths: Iterable[str]) -> Review:
    """``review`` without any entry for ``paths``."""
    gone = set(paths)
    return Review({p: v for p, v in review.verdicts.items() if p not in gone})


def match_clips(patterns: Sequence[str], clips: Sequence[Clip]) -> list[Clip]:
    """The clips each pattern names (a glob may name several); an unknown one is an error."""
    by_path = {clip.path: clip for clip in clips}
    chosen: dict[str, Clip] = {}
    for pattern in patterns:
        found = [c for p, c in by_path.items() if fnmatch.fnmatchcase(p, pattern)]
        if not found:
            raise UsageError(f"no clip {pattern!r} in the manifest{_closest(pattern, by_path)}")
        chosen.update((clip.path, clip) for clip in found)
    return list(chosen.values())


def _closest(pattern: str, paths: Iterable[str]) -> str:
    names = difflib.get_close_matches(pattern, list(paths), n=3, cutoff=0.5)
    return f"; closest: {', '.join(names)}" if names else " (`mjv report` lists the clips)"
