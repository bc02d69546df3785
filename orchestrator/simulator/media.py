"""Deterministic media bytes served by the simulator's CDN: small MP4 clips and a PNG."""

from __future__ import annotations

import base64
import hashlib
import struct

# A 1x1 transparent PNG: enough for anything that checks the signature.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def clip_bytes(task_id: str, index: int, seed: int = 0) -> bytes:
    """Return an ISO-BMFF file (``ftyp`` first) unique to one clip and stable across calls."""
    digest = hashlib.sha256(f"{seed}:{task_id}:{index}".encode()).digest()
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    free = _box(b"free", f"mjv-simulator task {task_id} clip {index}".encode())
    mdat = _box(b"mdat", digest * 64)
    return ftyp + free + mdat
