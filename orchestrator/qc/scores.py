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

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from orchestrator.qc.decode import Frame, Grey

FREEZE_NOISE = 0.001
FREEZE_SECONDS = 2.0
BLACK_PIXEL = 16 + 0.10 * (235 - 16)  # 10 % of the (limited) luma range above black
BLACK_LEVEL = math.ceil(BLACK_PIXEL)  # integer grey levels below it: those below BLACK_PIXEL
BLACK_SHARE = 0.98
MOTION_SECONDS = 0.25

Floats = npt.NDArray[np.float64]


BLOCK = 24  # frames scored together: one second at 24 fps


@dataclass
class FrameStats:
    """Everything the scores need, gathered frame by frame; holds a block of frames at most.

    Frames are copied into a block (with the few before it that motion compares with) and
    scored a block at a time, each score by one array operation over the block; the sums
    are folded in frame order, so every score is what frame-by-frame arithmetic gives.
    """

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
    _still_at: int | None = None  # the frame a still stretch started at
    _still_ref: Grey | None = None  # its copy, once the stretch outlives the block row
    _rows: Grey | None = None  # the lag frames before the block, then the block
    _times: list[float] = field(default_factory=list)

    @property
    def lag(self) -> int:
        """Frames between the two a motion score compares."""
        return max(1, round(self.fps * MOTION_SECONDS))

    def add(self, frame: Frame) -> None:
        """Fold one frame into the statistics."""
        if self._rows is None:
            self._rows = np.zeros((self.lag + BLOCK, *frame.grey.shape), np.int16)
        self._rows[self.lag + len(self._times)] = frame.grey
        self._times.append(frame.time)
        self.frames += 1
        self.last_time = frame.time
        if len(self._times) == BLOCK:
            self._flush()

    def _flush(self) -> None:
        rows, count, lag = self._rows, len(self._times), self.lag
        if rows is None or not count:
            return
        block = rows[lag : lag + count]
        size = block[0].size
        blacks = np.count_nonzero((block < BLACK_LEVEL).reshape(count, -1), axis=1)
        steps = _abs_sums(block, rows[lag - 1 : lag - 1 + count])
        moves = _abs_sums(block, rows[:count])
        first_number = self.frames - count
        for k, time in enumerate(self._times):
            number = first_number + k
            self._frame(number, time, block[k], int(blacks[k]), int(steps[k]) / size)
            if number >= lag:
                self.motion_sum += int(moves[k]) / size / 255
                self.motion_pairs += 1
        self.last = block[count - 1].copy()
        rows[:lag] = rows[count : count + lag]  # the frames the next block's motion needs
        self._times.clear()

    def _frame(self, number: int, time: float, grey: Grey, black: int, step: float) -> None:
        """One frame's part of the scores (``step``: its change from the frame before)."""
        if number == 0:
            self.first = grey.copy()
        if self.join is not None and self.at_join is None and time >= self.join - 1e-3:
            self.at_join = grey.copy()
        if black >= BLACK_SHARE * grey.size:
            self.black_frames += 1
        if number > 0:
            self.diff_sum += step
        self._freeze(number, time, grey, step)

    def _freeze(self, number: int, time: float, grey: Grey, step: float) -> None:
        if self._still_at is not None:
            # A moving clip's reference is the frame before: its change is known already.
            previous = self._still_at == number - 1
            change = step if previous else _mad(grey, self._still_ref)
            if change / 255 <= FREEZE_NOISE:
                if previous:
                    self._still_ref = self._previous(number)
                return
        self._close_still(time)
        self._still_at, self._still_since, self._still_ref = number, time, None

    def _previous(self, number: int) -> Grey:
        """A copy of the frame before ``number`` (in the block, or among the rows before it)."""
        rows = self._rows
        assert rows is not None
        found: Grey = rows[self.lag + number - (self.frames - len(self._times)) - 1].copy()
        return found

    def _close_still(self, end: float) -> None:
        if self._still_at is not None and end - self._still_since >= FREEZE_SECONDS:
            self.frozen_seconds += end - self._still_since

    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        return self.last_time + (1 / self.fps if self.fps else 0.0) if self.frames else 0.0

    def finish(self) -> dict[str, float | int]:
        """The clip's own scores (those that need no other picture)."""
        self._flush()
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


def _abs_sums(a: Grey, b: Grey) -> npt.NDArray[np.int64]:
    """Per frame of two blocks, the sum of absolute differences of their grey levels."""
    sums: npt.NDArray[np.int64] = np.abs(a - b).reshape(len(a), -1).sum(axis=1, dtype=np.int64)
    return sums


def _mad(a: Grey, b: Grey | None) -> float:
    """Mean absolute difference of two samples, in grey levels."""
    assert b is not None
    return int(np.abs(a - b).sum(dtype=np.int64)) / a.size


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
