"""Scores of one clip from its streamed frames: each a cheap signal the research uses.

- ``flicker``: VBench's temporal flickering, ``(255 - mean |I_t - I_t-1|) / 255`` (1 = none).
- ``frozen``: FFmpeg ``freezedetect``: a stretch of frames within a noise of 0.001 (of full
  scale) of the stretch's first frame, lasting at least 2 s; the share of the clip in them.
- ``black``: FFmpeg ``blackdetect``: a frame is black when 98 % of its pixels are below 10 % of
  the luma range; the share of black frames.
- ``motion``: mean absolute change of a pixel over a quarter of a second, in share of full
  scale: comparable across frame rates and resolutions.
- ``start_similarity``, ``end_similarity``, ``continuity``: SSIM of two grey samples.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from orchestrator.qc.decode import Frame, Grey

FREEZE_NOISE = 0.001
FREEZE_SECONDS = 2.0
BLACK_PIXEL = 16 + 0.10 * (235 - 16)  # 10 % of the (limited) luma range above black
BLACK_SHARE = 0.98
MOTION_SECONDS = 0.25

Floats = npt.NDArray[np.float64]


@dataclass
class FrameStats:
    """Everything the scores need, gathered frame by frame; holds a few frames at most."""

    fps: float
    frames: int = 0
    black_frames: int = 0
    diff_sum: float = 0.0
    motion_sum: float = 0.0
    motion_pairs: int = 0
    frozen_seconds: float = 0.0
    first: Grey | None = None
    last: Grey | None = None
    last_time: float = 0.0
    join: float | None = None  # a time whose frame is kept (an extension's join)
    at_join: Grey | None = None
    parent_last: Grey | None = None  # the last frame of the clip an extension continues
    _still_since: float = 0.0
    _still_ref: Grey | None = None
    _recent: deque[Grey] = field(default_factory=deque)
    _buffer: Grey | None = None  # scratch for differences: no array made per comparison

    def add(self, frame: Frame) -> None:
        """Fold one frame into the statistics."""
        grey = frame.grey
        if self.first is None:
            self.first = grey
        if self.join is not None and self.at_join is None and frame.time >= self.join - 1e-3:
            self.at_join = grey
        if np.count_nonzero(grey < BLACK_PIXEL) >= BLACK_SHARE * grey.size:
            self.black_frames += 1
        diff = None if self.last is None else self._mad(grey, self.last)
        if diff is not None:
            self.diff_sum += diff
        self._motion(grey)
        # A moving clip's reference is the previous frame: its difference is known already.
        same = diff is not None and self._still_ref is self.last
        self._freeze(grey, frame.time, diff if same else None)
        self.last, self.last_time = grey, frame.time
        self.frames += 1

    def _motion(self, grey: Grey) -> None:
        lag = max(1, round(self.fps * MOTION_SECONDS))
        if len(self._recent) == lag:
            self.motion_sum += self._mad(grey, self._recent.popleft()) / 255
            self.motion_pairs += 1
        self._recent.append(grey)

    def _mad(self, a: Grey, b: Grey) -> float:
        """Mean absolute difference of two samples, in grey levels."""
        if self._buffer is None or self._buffer.shape != a.shape:
            self._buffer = np.empty_like(a)
        np.subtract(a, b, out=self._buffer)
        np.abs(self._buffer, out=self._buffer)
        return float(self._buffer.sum()) / a.size

    def _freeze(self, grey: Grey, time: float, diff: float | None) -> None:
        ref = self._still_ref
        if ref is not None:
            change = self._mad(grey, ref) if diff is None else diff
            if change / 255 <= FREEZE_NOISE:
                return
        self._close_still(time)
        self._still_ref, self._still_since = grey, time

    def _close_still(self, end: float) -> None:
        if self._still_ref is not None and end - self._still_since >= FREEZE_SECONDS:
            self.frozen_seconds += end - self._still_since

    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        return self.last_time + (1 / self.fps if self.fps else 0.0) if self.frames else 0.0

    def finish(self) -> dict[str, float | int]:
        """The clip's own scores (those that need no other picture)."""
        duration = self.duration()
        self._close_still(duration)
        pairs = max(1, self.frames - 1)
        return {
            "duration": round(duration, 3),
            "frames": self.frames,
            "frozen": round(min(1.0, self.frozen_seconds / duration) if duration else 0.0, 4),
            "black": round(self.black_frames / self.frames, 4) if self.frames else 0.0,
            "flicker": round((255 - self.diff_sum / pairs) / 255, 4),
            "motion": round(self.motion_sum / self.motion_pairs, 5) if self.motion_pairs else 0.0,
        }


def ssim(a: Grey, b: Grey) -> float:
    """Mean SSIM of two grey samples of one size (7 x 7 windows, the usual constants)."""
    if a.shape != b.shape or min(a.shape) < 7:
        return 0.0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x, y = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = _box(x), _box(y)
    var_a = _box(x * x) - mu_a * mu_a
    var_b = _box(y * y) - mu_b * mu_b
    cov = _box(x * y) - mu_a * mu_b
    top = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    bottom = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return round(float(np.mean(top / bottom)), 4)


def _box(image: Floats, size: int = 7) -> Floats:
    """Mean over every ``size`` x ``size`` window (valid positions), by summed-area table."""
    table = np.pad(image, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    sums = table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]
    box: Floats = sums / (size * size)
    return box
