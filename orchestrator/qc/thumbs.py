"""Pictures of a clip kept while it is decoded: a poster frame and a strip of a few frames.

They are written as JPEG into ``thumbs/`` beside the clips, so a report shows what each clip
looks like before anyone presses play.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from orchestrator.atomic import replace_file

THUMBS_DIR = "thumbs"
POSTER_HEIGHT = 240
STRIP_HEIGHT = 90
STRIP_FRAMES = 5

Rgb = npt.NDArray[np.uint8]


class ThumbCollector:
    """Picks the strip's frames (and the poster, the middle one) as the frames stream by."""

    def __init__(self, expected_frames: int) -> None:
        total = max(1, expected_frames)
        self._wanted = sorted({round(i * (total - 1) / (STRIP_FRAMES - 1)) for i in range(5)})
        self._poster_at = total // 2
        self.strip: list[Rgb] = []
        self.poster: Rgb | None = None
        self._last: Any = None

    def add(self, number: int, picture: Any) -> None:
        """Look at one decoded frame; keep a small copy when it is one of the chosen."""
        if number in self._wanted[:-1]:
            self.strip.append(_rgb(picture, STRIP_HEIGHT))
        if number == self._poster_at:
            self.poster = _rgb(picture, POSTER_HEIGHT)
        self._last = picture

    def write(self, folder: Path, stem: str) -> tuple[str, ...]:
        """Write poster and strip into ``folder/thumbs``; their paths relative to ``folder``."""
        if self._last is None:
            return ()
        strip = [*self.strip, _rgb(self._last, STRIP_HEIGHT)]
        poster = self.poster if self.poster is not None else _rgb(self._last, POSTER_HEIGHT)
        names = (f"{THUMBS_DIR}/{stem}.poster.jpg", f"{THUMBS_DIR}/{stem}.strip.jpg")
        try:
            (folder / THUMBS_DIR).mkdir(parents=True, exist_ok=True)
            _write_jpeg(folder / names[0], poster)
            _write_jpeg(folder / names[1], np.concatenate(strip, axis=1))
        except OSError:  # a full or read-only disk: the pictures are a convenience, not a clip
            return ()
        return names


def _rgb(picture: Any, height: int) -> Rgb:
    width = max(2, round(picture.width * height / picture.height / 2) * 2)
    small = picture.reformat(
        width=width, height=height, format="rgb24", interpolation="FAST_BILINEAR"
    )
    return np.asarray(small.to_ndarray(), dtype=np.uint8)


def _write_jpeg(path: Path, image: Rgb) -> None:
    """Encode ``image`` as JPEG and swap it into place (a reader never sees half a file)."""
    height, width = image.shape[:2]
    width -= width % 2
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:, :width]), format="rgb24")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 1)
    packets = [*codec.encode(frame.reformat(format="yuvj420p")), *codec.encode(None)]
    replace_file(path, [b"".join(bytes(p) for p in packets)])  # a temp name of its own
