"""The clip checks in the report: each clip's badge, scores and poster; sorting by a score."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SORTED_SCORES = ("motion", "start_similarity", "end_similarity", "continuity", "flicker")
SHOWN_SCORES = (*SORTED_SCORES, "frozen", "black", "duration")
SORTS = tuple(f"score:{name}" for name in SORTED_SCORES)  # lowest first


@dataclass(frozen=True)
class ClipQc:
    """A clip's check as the report shows it."""

    passed: bool
    reasons: tuple[str, ...]
    scores: tuple[tuple[str, float], ...]  # the shown scores the check has, in SHOWN order


def clip_qc(entry: Mapping[str, Any]) -> ClipQc | None:
    """The check of one manifest file entry, None when it was not checked."""
    found = entry.get("qc")
    if not isinstance(found, Mapping):
        return None
    given = found.get("scores")
    scores: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    shown = tuple(
        (name, float(scores[name]))
        for name in SHOWN_SCORES
        if isinstance(scores.get(name), int | float) and not isinstance(scores[name], bool)
    )
    reasons = tuple(str(r) for r in found.get("reasons") or ())
    return ClipQc(bool(found.get("passed")), reasons, shown)


def card_attributes(checks: Iterable[ClipQc | None]) -> dict[str, object]:
    """``data-qc`` (failed when any clip failed) and each score's lowest value, to sort by."""
    found = [check for check in checks if check is not None]
    if not found:
        return {"data-qc": ""}
    lowest: dict[str, float] = {}
    for check in found:
        for name, value in check.scores:
            lowest[name] = min(value, lowest.get(name, value))
    verdict = "passed" if all(check.passed for check in found) else "failed"
    return {"data-qc": verdict, **{f"data-q{n}": lowest[n] for n in SORTED_SCORES if n in lowest}}


def render_clip_qc(check: ClipQc | None, strip: str | None = None) -> str:
    """The frame strip, badge and scores under one clip ('' when it was not checked)."""
    frames = (
        f'<img class="qc-strip" loading="lazy" alt="frames" src="{html.escape(strip)}">'
        if strip
        else ""
    )
    if check is None:
        return frames
    badge = "passed" if check.passed else "failed"
    scores = " · ".join(f"{html.escape(name)} {value:g}" for name, value in check.scores)
    reasons = "; ".join(check.reasons)
    why = f'<span class="qc-why">{html.escape(reasons)}</span>' if reasons else ""
    return frames + (
        f'<p class="qc qc-{badge}"><b class="qc-badge">{badge}</b> '
        f"<small>{scores}</small> {why}</p>"
    )
