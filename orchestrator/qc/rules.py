"""The pass/fail rules of the clip check (the spec's ``qc:`` section) and the verdict.

Pure: no decoding here, so the spec loader and the plan use it without loading PyAV.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

BASE_SECONDS = 5.0
EXTENSION_SECONDS = 4.0
# The side of the square of a clip's area: SD is about 390,000 pixels whatever the aspect
# (832x464 at 16:9, 624x624 at 1:1), HD about 922,000 (1280x720, 960x960).
SIDES = {"vid_1.1_i2v_480": 624, "vid_1.1_i2v_720": 960}
ON_FAIL = ("flag", "retake")
MAX_RETAKES = 5

Score = float | int | bool


@dataclass(frozen=True)
class QcRules:
    """Thresholds of each score, and what a failed clip leads to (defaults: docs/qc.md)."""

    enabled: bool = True
    on_fail: str = "flag"  # "flag" | "retake"
    retakes: int = 0  # 0..5 new takes of the job at most, when on_fail is retake
    min_motion: float = 0.004
    max_frozen: float = 0.25
    max_black: float = 0.10
    min_flicker: float = 0.90
    min_start_similarity: float = 0.40
    min_end_similarity: float = 0.40
    min_continuity: float = 0.50
    duration_tolerance: float = 1.5  # seconds either side of 5 s + 4 s per extension step
    size_tolerance: float = 0.08  # share of the expected side of the area (SD 624, HD 960)

    @property
    def retake_limit(self) -> int:
        """How many retakes a failed clip may lead to."""
        return self.retakes if self.enabled and self.on_fail == "retake" else 0


RULE_NAMES = tuple(f.name for f in fields(QcRules))
MATRIX_PREFIX = "qc_"  # a matrix axis qc_<rule> sets that rule for its rows


def matrix_rules(row: Mapping[str, Any]) -> dict[str, Any]:
    """The rules a matrix row sets through ``qc_<rule>`` axes."""
    return {
        key[len(MATRIX_PREFIX) :]: value
        for key, value in row.items()
        if key.startswith(MATRIX_PREFIX) and key[len(MATRIX_PREFIX) :] in RULE_NAMES
    }


def rules_from(section: Mapping[str, Any]) -> QcRules:
    """QcRules from a (validated) merged ``qc:`` section."""
    return QcRules(**{k: section[k] for k in RULE_NAMES if k in section})


@dataclass(frozen=True)
class Expected:
    """What a clip should be: its length from the chain, its size from the video type."""

    seconds: float
    side: int | None  # square root of the expected area, in pixels

    @classmethod
    def of(cls, step: int, video_type: str) -> Expected:
        """A clip of extension ``step`` (0 = base) made with ``video_type``."""
        return cls(BASE_SECONDS + EXTENSION_SECONDS * step, SIDES.get(video_type))


@dataclass(frozen=True)
class QcResult:
    """The check of one clip: its verdict, the reasons for it, its scores, its pictures."""

    passed: bool
    reasons: tuple[str, ...]
    scores: Mapping[str, Score]
    thumbs: tuple[str, ...] = ()  # paths relative to the job folder: poster, strip

    def to_json(self) -> str:
        """Canonical JSON (what the state keeps)."""
        body = {"passed": self.passed, "reasons": list(self.reasons), "scores": dict(self.scores)}
        return json.dumps(body | {"thumbs": list(self.thumbs)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> QcResult:
        """The result ``to_json`` wrote."""
        data = json.loads(text)
        return cls(
            bool(data["passed"]),
            tuple(data["reasons"]),
            dict(data["scores"]),
            tuple(data.get("thumbs", ())),
        )

    def entry(self) -> dict[str, Any]:
        """The manifest's ``qc`` object of a file."""
        return {"passed": self.passed, "reasons": list(self.reasons), "scores": dict(self.scores)}


def judge(rules: QcRules, scores: Mapping[str, Score], expected: Expected) -> tuple[str, ...]:
    """Why the clip fails ``rules`` (empty: it passes); scores that are absent are not judged."""
    if not scores.get("decodes"):
        return ("does not decode",)
    reasons = [*_shape(rules, scores, expected)]
    for name, low, high in _LIMITS:
        value = scores.get(name)
        if value is None:
            continue
        bound = getattr(rules, (low or high))
        if (low and float(value) < bound) or (high and float(value) > bound):
            word = "below" if low else "above"
            reasons.append(f"{name} {float(value):g} {word} {bound:g}")
    return tuple(reasons)


_LIMITS = (
    ("motion", "min_motion", ""),
    ("frozen", "", "max_frozen"),
    ("black", "", "max_black"),
    ("flicker", "min_flicker", ""),
    ("start_similarity", "min_start_similarity", ""),
    ("end_similarity", "min_end_similarity", ""),
    ("continuity", "min_continuity", ""),
)


def _shape(rules: QcRules, scores: Mapping[str, Score], expected: Expected) -> list[str]:
    found: list[str] = []
    duration = float(scores.get("duration", 0))
    if abs(duration - expected.seconds) > rules.duration_tolerance:
        found.append(f"duration {duration:g} s, expected {expected.seconds:g} s")
    width, height = int(scores.get("width", 0)), int(scores.get("height", 0))
    side, want = (width * height) ** 0.5, expected.side
    if want is not None and abs(side - want) > want * rules.size_tolerance:
        found.append(f"size {width}x{height}, expected about {want * want:,} pixels")
    return found
