"""Crash-safe clip downloads: stream to a temp file, verify, fsync, rename into place."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from orchestrator.atomic import fsync_dir
from orchestrator.errors import CannotWriteError, ContentMismatchError, DownloadError

Fetch = Callable[[str, Callable[[bytes], None]], Awaitable[int]]
"""Streams a URL's body into a sink, chunk by chunk (e.g. ``client.download(url, sink)``)."""

SetAside = Callable[[Path], None]
"""Moves the file at a clip's place out of the way (into versions/) before it is replaced."""

STALE_PART_SECONDS = 600.0  # a temp file untouched this long belongs to a killed run
_PART = re.compile(r"\..+\.[0-9a-f]{16}\.part")

MP4_MAGIC = b"ftyp"
_HEADER_BYTES = 8
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Downloaded:
    """A verified file: its content hash and size in bytes."""

    sha256: str
    size: int


class _HashingSink:
    """Writes chunks to a file while hashing them and keeping the first bytes for the check."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._hash = hashlib.sha256()
        self.size = 0
        self.header = b""

    def __call__(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)
        if len(self.header) < _HEADER_BYTES:
            self.header = (self.header + chunk[:_HEADER_BYTES])[:_HEADER_BYTES]

    def result(self) -> Downloaded:
        """The hash and size of everything written."""
        return Downloaded(sha256=self._hash.hexdigest(), size=self.size)


async def download_clip(
    fetch: Fetch,
    url: str,
    dest: Path,
    *,
    expected: str | None = None,
    set_aside: SetAside | None = None,
) -> Downloaded:
    """Download ``url`` to ``dest`` atomically; only a verified MP4 ever replaces ``dest``.

    With ``expected`` the content must also have that sha256. A file already at ``dest`` is
    handed to ``set_aside`` just before the rename (never overwritten when one is given).
    """
    temp = dest.with_name(f".{dest.name}.{secrets.token_hex(8)}.part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Not mkstemp: its 0600 mode would stick to the clip; this way the umask decides.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise CannotWriteError(f"cannot write {dest} (downloading {url}): {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            sink = _HashingSink(file)
            await fetch(url, sink)
            _verify(sink, url, dest, expected)
            file.flush()
            # fsync waits on the disk: one trip to a thread, so the event loop keeps polling.
            await asyncio.to_thread(_make_durable, file.fileno(), temp, dest, set_aside)
    except OSError as exc:  # the fetch raises its own errors: an OSError here is the disk's
        raise CannotWriteError(f"cannot write {dest} (downloading {url}): {exc}") from exc
    finally:
        # Also on cancellation: a half-written file must never survive.
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return sink.result()


def _make_durable(fd: int, temp: Path, dest: Path, set_aside: SetAside | None) -> None:
    """Flush the file to disk, rename it into place, and make the rename durable too."""
    os.fsync(fd)
    if set_aside is not None and os.path.lexists(dest):
        set_aside(dest)
    os.replace(temp, dest)
    fsync_dir(dest.parent)


def _verify(sink: _HashingSink, url: str, dest: Path, expected: str | None) -> None:
    """Refuse an empty body, one that is not an ISO-BMFF (MP4) file, or unexpected content."""
    if sink.size == 0:
        raise DownloadError(f"download of {url} for {dest} was empty")
    if sink.header[4:8] != MP4_MAGIC:
        raise DownloadError(
            f"download of {url} for {dest} is not an MP4 file "
            f"(no 'ftyp' box; starts with {sink.header!r})"
        )
    got = sink.result().sha256
    if expected is not None and got != expected:
        raise ContentMismatchError(
            f"download of {url} for {dest} does not match the recorded sha256 {expected} "
            f"(got {got}); nothing was put in place"
        )


def file_matches(path: Path, sha256: str, size: int) -> bool:
    """True when ``path`` exists with exactly this size and sha256 (size is checked first)."""
    try:
        if path.stat().st_size != size:
            return False
    except OSError:
        return False
    found = file_digest(path)
    return found is not None and found.sha256 == sha256


def file_digest(path: Path) -> Downloaded | None:
    """The sha256 and size of the file at ``path``; None when it cannot be read."""
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError:
        return None
    return Downloaded(digest.hexdigest(), size)


def remove_stale_parts(
    folder: Path, *, older_than: float = STALE_PART_SECONDS, now: float | None = None
) -> int:
    """Remove the temp files (``.<name>.<hex>.part``) killed runs left in ``folder``.

    Only files untouched for ``older_than`` seconds: a live runner of the same campaign may be
    writing a fresh one. Returns how many were removed.
    """
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        if _PART.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                if now - entry.stat(follow_symlinks=False).st_mtime >= older_than:
                    os.unlink(entry.path)
                    removed += 1
    return removed
