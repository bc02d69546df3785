"""Streaming decode of a clip into small grey frames: one frame in memory at a time.

Only the luma plane is read, sampled on a grid (every ``step``-th pixel of every ``step``-th
row) down to about ``ANALYSIS_WIDTH`` pixels across: as cheap as decoding itself, and enough for
the checks, which compare frames, never look at detail.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

ANALYSIS_WIDTH = 112
Grey = npt.NDArray[np.int16]  # grey levels 0-255; int16 so differences stay exact and small
Luma = npt.NDArray[np.uint8]  # a frame's sample as the decoder holds it (a view, not a copy)


class UndecodableError(Exception):
    """The file is not a decodable video (its reason is the message)."""


@dataclass(frozen=True)
class StreamInfo:
    """What the container says of its video stream."""

    width: int
    height: int
    fps: float
    frames: int  # as the container announces them; 0 when it does not say


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its number, its time in seconds, its grey sample, the decoder's frame.
    ``grey`` is a view into the decoder's frame: copy what you keep."""

    number: int
    time: float
    grey: Luma
    picture: Any  # av.VideoFrame, kept only while this frame is current (thumbnails)


def sample_step(width: int) -> int:
    """Every how many pixels a frame of ``width`` is sampled."""
    return max(1, width // ANALYSIS_WIDTH)


def grey_of(frame: Any, step: int) -> Grey:
    """The luma plane of ``frame``, sampled every ``step`` pixels (grey levels 0-255)."""
    return luma_of(frame, step).astype(np.int16)


def luma_of(frame: Any, step: int) -> Luma:
    """``grey_of`` without the copy: a strided view of the frame's own luma plane."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height : step, : frame.width : step]


def _open(path: Path) -> Any:
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise UndecodableError(f"cannot open: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise UndecodableError("no video stream")
    return container


def stream_frames(path: Path) -> tuple[StreamInfo, Iterator[Frame]]:
    """The stream's description and its frames, decoded one at a time (UndecodableError)."""
    container = _open(path)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else 0.0
    context = stream.codec_context
    info = StreamInfo(int(context.width), int(context.height), fps, int(stream.frames or 0))
    return info, _frames(container, stream, info)


def _frames(container: Any, stream: Any, info: StreamInfo) -> Iterator[Frame]:
    step = sample_step(info.width)
    number = 0
    try:
        for picture in container.decode(stream):
            seconds = float(picture.time) if picture.time is not None else number / (info.fps or 1)
            yield Frame(number, seconds, luma_of(picture, step), picture)
            number += 1
    except av.error.FFmpegError as exc:
        raise UndecodableError(f"decoding stopped at frame {number}: {exc}") from exc
    finally:
        container.close()


def last_grey(path: Path) -> tuple[Grey, float] | None:
    """The clip's last frame's grey sample and the time its frame ends (seeking near the end);
    None when unreadable."""
    try:
        container = _open(path)
    except UndecodableError:
        return None
    try:
        stream = container.streams.video[0]
        step = sample_step(int(stream.codec_context.width))
        if stream.duration:
            container.seek(max(0, int(stream.duration) - int(1 / stream.time_base)), stream=stream)
        last = None
        for picture in container.decode(stream):
            last = picture
        if last is None or last.time is None:
            return None
        rate = stream.average_rate or stream.guessed_rate
        return grey_of(last, step), float(last.time) + (1 / float(rate) if rate else 0.0)
    except av.error.FFmpegError:
        return None
    finally:
        container.close()


def image_grey(path: Path, width: int, height: int) -> Grey | None:
    """A still image (PNG, JPEG, WebP...) as a grey sample of ``width`` x ``height``; decoded
    once per content (a start image shared by many clips), the sample kept read-only."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _image_grey(str(path), stat.st_mtime_ns, stat.st_size, width, height)


@functools.lru_cache(maxsize=64)  # about 17 kB each
def _image_grey(path: str, _mtime: int, _size: int, width: int, height: int) -> Grey | None:
    try:
        with av.open(path) as container:
            picture = next(container.decode(video=0))
            small = picture.reformat(width=width, height=height, format="gray")
            grey = grey_of(small, 1)
    except (av.error.FFmpegError, OSError, StopIteration, IndexError):
        return None
    grey.setflags(write=False)
    return grey
