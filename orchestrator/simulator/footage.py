"""Clips worth checking: real H.264 of the right length and size that start from the image.

A clip starts from a picture derived from its start image (the uploaded file itself when the
simulator holds it, else a pattern drawn from the image URL) and pans across it. Faults serve
the defects the clip check looks for. Encoding takes a fraction of a second, so clips are made
once per (picture, length, size, fault) and kept, in memory and in the system's temp folder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from orchestrator.errors import ConfigError

FPS = 24
SD_SIZE = (854, 480)
HD_SIZE = (1280, 720)
PAN_PIXELS = 3  # per frame
FAULTS = ("frozen", "black", "flicker", "short", "undecodable", "unrelated")
UNDECODABLE = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00not a movie" * 64
_CACHE_VERSION = "7"
STILL_FAULTS = ("frozen", "black")  # these never arrive anywhere
ARRIVAL = FPS // 2  # frames over which a clip with an end frame blends into it
FLAT = 8.0  # a picture whose grey levels spread less than this has nothing to pan across

Rgb = npt.NDArray[np.uint8]


def clip_seconds(depth: int) -> float:
    """A clip's length: about 5 s, and 4 s more for each extension above it."""
    return 5.0 + 4.0 * depth


def picture_of(image: bytes | None, seed: str, size: tuple[int, int]) -> Rgb:
    """The clip's first picture: ``image`` decoded and fitted, else a pattern from ``seed``."""
    width, height = size
    if image:
        with contextlib.suppress(av.error.FFmpegError, StopIteration, OSError):
            return _decoded(image, width, height)
    return _pattern(seed, width, height)


def _decoded(image: bytes, width: int, height: int) -> Rgb:
    with tempfile.NamedTemporaryFile(suffix=".img") as file:
        file.write(image)
        file.flush()
        with av.open(file.name) as container:
            frame = next(container.decode(video=0))
            rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
            return np.asarray(rgb, dtype=np.uint8)


def _pattern(seed: str, width: int, height: int) -> Rgb:
    digest = hashlib.sha256(seed.encode()).digest()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [
        128 + 90 * np.sin(xx / (20 + digest[i]) + yy / (30 + digest[i + 3]) + digest[i + 6])
        for i in range(3)
    ]
    return np.stack(channels, axis=-1).clip(0, 255).astype(np.uint8)


def footage(picture: Rgb, seconds: float, fault: str = "", end: Rgb | None = None) -> bytes:
    """An MP4 (moov first) panning across ``picture`` for ``seconds``, with ``fault`` if any;
    with an ``end`` picture (an end image, or the start for a loop) it arrives there."""
    if fault == "undecodable":
        return UNDECODABLE
    ending = b"" if end is None else b"end" + end.tobytes()
    key = hashlib.sha256(
        picture.tobytes() + ending + f"{seconds}/{fault}/{_CACHE_VERSION}".encode()
    )
    return _cached(key.hexdigest(), picture, seconds, fault, end)


@functools.lru_cache(maxsize=32)
def _from_disk_or_made(digest: str) -> bytes | None:
    path = _cache_dir() / f"{digest}.mp4"
    with contextlib.suppress(OSError):
        return path.read_bytes()
    return None


def _cached(digest: str, picture: Rgb, seconds: float, fault: str, end: Rgb | None) -> bytes:
    found = _from_disk_or_made(digest)
    if found is not None:
        return found
    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{digest}.{os.getpid()}.mp4"
    _encode(temp, picture, seconds, fault, end)
    os.replace(temp, folder / f"{digest}.mp4")
    _from_disk_or_made.cache_clear()
    return (folder / f"{digest}.mp4").read_bytes()


def _cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"mjv-simulator-clips-{os.getuid()}"


def _encode(path: Path, picture: Rgb, seconds: float, fault: str, end: Rgb | None) -> None:
    height, width = picture.shape[:2]
    frames = round((2.0 if fault == "short" else seconds) * FPS)
    # Unrelated: the picture's negative. Two of the smooth patterns can score 0.6 apart; a
    # negative scores below 0.2 whatever the picture.
    start = 255 - picture if fault == "unrelated" else picture
    # A flat picture (a test's 1-pixel PNG) gets a pattern faded in over half a second, so
    # the clip starts from it and still moves.
    flat = float(picture.std(axis=(0, 1)).max()) < FLAT  # the spread in space, per colour
    texture = _pattern("texture", width, height) if flat else None
    options = {"preset": "ultrafast", "crf": "36", "threads": "1"}
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for number in range(frames):
            rgb = _frame(start, number, fault, texture)
            if end is not None and fault not in STILL_FAULTS:
                rgb = _arriving(rgb, end, (number - frames + ARRIVAL + 1) / ARRIVAL)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _arriving(rgb: Rgb, end: Rgb, mix: float) -> Rgb:
    """The frame blended ``mix`` of the way to ``end`` (the last frame is ``end`` itself)."""
    if mix <= 0:
        return rgb
    blended = rgb.astype(np.float32) * (1 - mix) + end.astype(np.float32) * mix
    return blended.round().clip(0, 255).astype(np.uint8)


def _frame(picture: Rgb, number: int, fault: str, texture: Rgb | None = None) -> Rgb:
    if fault == "black":
        return np.zeros_like(picture)
    steps = 0 if fault == "frozen" else number
    shift = (-steps, -PAN_PIXELS * steps)  # down and across: stripes either way still move
    moved = np.roll(picture, shift, axis=(0, 1))
    if texture is not None and fault != "frozen":
        mix = min(1.0, number / (FPS / 2))
        detail = (np.roll(texture, shift, axis=(0, 1)).astype(np.float32) - 128) * 0.8 * mix
        moved = (moved + detail).clip(0, 255).astype(np.uint8)
    if fault == "flicker" and number % 2:
        return (moved.astype(np.int16) // 3).astype(np.uint8)
    return moved


def faults_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """``SimulatorConfig`` clip fault options from MJV_SIMULATE_CLIP_FAULT (a fault, or
    fault:share) and MJV_SIMULATE_CLIP_FAULT_WORD, for `mjv run --simulate`."""
    given = environ.get("MJV_SIMULATE_CLIP_FAULT", "")
    if not given:
        return {}
    fault, _, share = given.partition(":")
    if fault not in FAULTS:
        raise ConfigError(f"MJV_SIMULATE_CLIP_FAULT: {fault!r} is not one of {', '.join(FAULTS)}")
    try:
        fraction = float(share) if share else 0.0
    except ValueError:
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"MJV_SIMULATE_CLIP_FAULT: share {share!r} is not between 0 and 1")
    word = environ.get("MJV_SIMULATE_CLIP_FAULT_WORD", "")
    return {"clip_fault": fault, "clip_fault_share": fraction, "clip_fault_word": word}
