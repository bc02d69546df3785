"""The simulator's clips: real MP4s (ftyp first, a video track of the right size), unique."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator

import pytest

from orchestrator.simulator.media import VARIANTS, base_clip, clip_bytes

CONTAINERS = {b"moov", b"trak"}


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of each box in ``data``; fails on a box running past the end."""
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert 8 <= size <= len(data) - offset, f"bad {kind!r} box at {offset}"
        yield kind, data[offset + 8 : offset + size]
        offset += size


def _track_size(data: bytes) -> tuple[int, int]:
    """Width and height of the first track header (tkhd) in the file."""
    moov = next(payload for kind, payload in _boxes(data) if kind == b"moov")
    trak = next(payload for kind, payload in _boxes(moov) if kind == b"trak")
    tkhd = next(payload for kind, payload in _boxes(trak) if kind == b"tkhd")
    width, height = struct.unpack(">II", tkhd[-8:])  # 16.16 fixed point, last two fields
    return width >> 16, height >> 16


def test_bytes_are_deterministic() -> None:
    assert clip_bytes("task-1", 0, 7) == clip_bytes("task-1", 0, 7)
    assert clip_bytes("task-1", 0, 7, hd=True) == clip_bytes("task-1", 0, 7, hd=True)


def test_every_clip_is_unique() -> None:
    clips = [clip_bytes(f"t{t}", i, s) for t in range(20) for i in range(4) for s in (0, 1)]
    assert len({hashlib.sha256(c).hexdigest() for c in clips}) == len(clips)


def test_neighbouring_clips_use_different_base_clips() -> None:
    bases = {base_clip(v) for v in range(VARIANTS)}
    used = {next(b for b in bases if clip_bytes(f"t{t}", 0).startswith(b)) for t in range(12)}
    assert len(used) > 1


def test_ftyp_first_and_a_real_movie() -> None:
    data = clip_bytes("task-1", 0)
    assert data[4:8] == b"ftyp"
    kinds = [kind for kind, _ in _boxes(data)]
    assert kinds[0] == b"ftyp" and b"moov" in kinds and b"mdat" in kinds
    assert kinds.index(b"moov") < kinds.index(b"mdat")  # playable before fully fetched


def test_trailing_box_carries_the_identity() -> None:
    kind, payload = list(_boxes(clip_bytes("task-9", 2, 5)))[-1]
    assert kind == b"free"
    assert payload.startswith(b"mjv-simulator seed=5 task=task-9 clip=2 ")


@pytest.mark.parametrize(("hd", "size"), [(False, (854, 480)), (True, (1280, 720))])
def test_resolution_by_hd(hd: bool, size: tuple[int, int]) -> None:
    for task in ("a", "b", "c", "d", "e", "f"):
        assert _track_size(clip_bytes(task, 0, hd=hd)) == size


def test_base_clips_are_small_h264() -> None:
    for variant in range(VARIANTS):
        for hd in (False, True):
            data = base_clip(variant, hd)
            assert len(data) < 100_000
            assert b"avc1" in data  # the H.264 sample entry
