"""Pictures of a clip kept while it is decoded: a poster frame and a strip of a few frames.

They are written as JPEG into ``thumbs/`` beside the clips, so a report shows what each clip
looks like before anyone presses play. A chosen frame is scaled once, straight from the
decoder's YUV into the full-range YUV a JPEG holds (no RGB in between), by one scaler per
thread that keeps its context from frame to frame.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import VideoReformatter

from orchestrator.atomic import replace_file

THUMBS_DIR = "thumbs"
POSTER_HEIGHT = 240
STRIP_HEIGHT = 90
STRIP_FRAMES = 5
JPEG_FORMAT = "yuvj420p"  # what FFmpeg's JPEG encoder takes: full-range YUV 4:2:0

Rgb = npt.NDArray[np.uint8]
Planes = tuple[npt.NDArray[np.uint8], ...]  # Y, U, V of one small picture
_SCALERS = threading.local()


class ThumbCollector:
    """Picks the strip's frames (and the poster, the middle one) as the frames stream by."""

    def __init__(self, expected_frames: int) -> None:
        total = max(1, expected_frames)
        self._wanted = sorted({round(i * (total - 1) / (STRIP_FRAMES - 1)) for i in range(5)})
        self._poster_at = total // 2
        self.strip: list[Planes] = []
        self.poster: Planes | None = None
        self._last: Any = None

    def add(self, number: int, picture: Any) -> None:
        """Look at one decoded frame; keep a small copy when it is one of the chosen."""
        if number in self._wanted[:-1]:
            self.strip.append(_small(picture, STRIP_HEIGHT))
        if number == self._poster_at:
            self.poster = _small(picture, POSTER_HEIGHT)
        self._last = picture

    def write(self, folder: Path, stem: str) -> tuple[str, ...]:
        """Write poster and strip into ``folder/thumbs``; their paths relative to ``folder``."""
        if self._last is None:
            return ()
        strip = [*self.strip, _small(self._last, STRIP_HEIGHT)]
        poster = self.poster if self.poster is not None else _small(self._last, POSTER_HEIGHT)
        names = (f"{THUMBS_DIR}/{stem}.poster.jpg", f"{THUMBS_DIR}/{stem}.strip.jpg")
        try:
            (folder / THUMBS_DIR).mkdir(parents=True, exist_ok=True)
            _save(folder / names[0], _frame_of(poster))
            side_by_side = (np.concatenate([p[i] for p in strip], axis=1) for i in range(3))
            _save(folder / names[1], _frame_of(tuple(side_by_side)))
        except OSError:  # a full or read-only disk: the pictures are a convenience, not a clip
            return ()
        return names


def _scaler() -> VideoReformatter:
    """This thread's scaler: it reuses its context while sizes and formats stay the same."""
    found: VideoReformatter | None = getattr(_SCALERS, "scaler", None)
    if found is None:
        found = _SCALERS.scaler = VideoReformatter()
    return found


def _small(picture: Any, height: int) -> Planes:
    """``picture`` scaled to ``height`` rows (an even width), as JPEG-ready YUV planes."""
    width = max(2, round(picture.width * height / picture.height / 2) * 2)
    small = _scaler().reformat(
        picture,
        width=width,
        height=height,
        format=JPEG_FORMAT,
        interpolation="FAST_BILINEAR",
        threads=1,  # a scaler's own threads cost more to start than such a picture takes
    )
    return tuple(_plane(plane) for plane in small.planes)


def _plane(plane: Any) -> npt.NDArray[np.uint8]:
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return np.array(rows[: plane.height, : plane.width])


def _frame_of(planes: Planes) -> Any:
    """A JPEG-ready frame of Y, U and V planes (PyAV's layout: the planes one after another)."""
    luma = planes[0]
    flat = np.concatenate([plane.ravel() for plane in planes])
    return av.VideoFrame.from_ndarray(flat.reshape(-1, luma.shape[1]), format=JPEG_FORMAT)


def _write_jpeg(path: Path, image: Rgb) -> None:
    """Encode an RGB ``image`` as JPEG and swap it into place (tests and benchmarks use it)."""
    width = image.shape[1]
    even = np.ascontiguousarray(image[:, : width - width % 2])
    _save(path, av.VideoFrame.from_ndarray(even, format="rgb24").reformat(format=JPEG_FORMAT))


def _save(path: Path, frame: Any) -> None:
    """Encode ``frame`` (full-range YUV 4:2:0) as JPEG and swap it into place: a reader never
    sees half a file. Not fsynced: a picture is a convenience, not worth a disk flush per clip."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, JPEG_FORMAT
    codec.time_base = Fraction(1, 1)
    packets = [*codec.encode(frame), *codec.encode(None)]
    replace_file(path, [b"".join(bytes(p) for p in packets)], durable=False)
