"""Deterministic media bytes served by the simulator's CDN: playable MP4 clips and a PNG."""

from __future__ import annotations

import base64
import functools
import hashlib
import struct
from importlib import resources

# A 1x1 transparent PNG: enough for anything that checks the signature.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

# Base clips made once by data/make_clips.sh (silent H.264, 3 s): SD 854x480, HD 1280x720.
VARIANTS = 3
IDENTITY_BOX = b"free"
IDENTITY_PREFIX = b"mjv-simulator "


@functools.cache
def base_clip(variant: int, hd: bool = False) -> bytes:
    """Bytes of one shipped base clip (``ftyp`` first, ``moov`` before ``mdat``)."""
    name = f"{'hd' if hd else 'sd'}-{variant}.mp4"
    return (resources.files("orchestrator.simulator") / "data" / name).read_bytes()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def identity_box(task_id: str, index: int, seed: int = 0) -> bytes:
    """A trailing top-level box carrying one clip's identity (players skip it)."""
    identity = f"seed={seed} task={task_id} clip={index}".encode()
    digest = hashlib.sha256(identity).digest()
    return _box(IDENTITY_BOX, IDENTITY_PREFIX + identity + b" " + digest.hex().encode())


def clip_bytes(task_id: str, index: int, seed: int = 0, *, hd: bool = False) -> bytes:
    """Return a playable MP4 unique to one clip and stable across calls.

    A base clip chosen by hash (so neighbouring clips differ) plus a trailing top-level box
    that carries the clip's identity; players skip unknown trailing boxes.
    """
    identity = f"seed={seed} task={task_id} clip={index}".encode()
    digest = hashlib.sha256(identity).digest()
    payload = IDENTITY_PREFIX + identity + b" " + digest.hex().encode()
    return base_clip(digest[0] % VARIANTS, hd) + _box(IDENTITY_BOX, payload)
