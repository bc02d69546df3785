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

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from orchestrator.atomic import fsync_dir
from orchestrator.errors import CannotWriteError, ContentMismatchError, DownloadError

Fetch = Callable[[str, Callable[[bytes], None]], Awaitable[int]]
"""Streams a URL's body into a sink, chunk by chunk (e.g. ``client.download(url, sink)``)."""

SetAside = Callable[[Path], None]
"""Moves the file at a clip's place out of the way (into versions/) before it is replaced."""

STALE_PART_SECONDS = 600.0  # without file locks: a temp file untouched this long is a dead run's
PART_GRACE_SECONDS = 5.0
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
        fd = await _created(temp)
    except OSError as exc:
        raise CannotWriteError(f"cannot write {dest} (downloading {url}): {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            sink = _HashingSink(file)
            await fetch(url, sink)
            _verify(sink, url, dest, expected)
            file.flush()
            # fsync waits on the disk: one trip to a thread, so the event loop keeps polling.
            await asyncio.to_thread(
                _make_durable, file.fileno(), temp, dest, set_aside, sink.result()
            )
    except OSError as exc:  # the fetch raises its own errors: an OSError here is the disk's
        raise CannotWriteError(f"cannot write {dest} (downloading {url}): {exc}") from exc
    finally:
        # Also on cancellation: a half-written file must never survive.
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return sink.result()


async def _created(temp: Path) -> int:
    """Create ``temp`` (and its folder) in a thread and return its open descriptor: a new
    folder and file take 1-1.5 ms of a busy disk, time the event loop spends polling instead.
    Cancelled meanwhile, the file is closed and removed once the thread is done with it."""
    making = asyncio.ensure_future(asyncio.to_thread(_create, temp))
    try:
        return await asyncio.shield(making)
    except asyncio.CancelledError:
        making.add_done_callback(lambda done: _discard(done, temp))
        raise


def _create(temp: Path) -> int:
    temp.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its 0600 mode would stick to the clip; this way the umask decides.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        _hold(fd)  # while this process lives, no cleaner takes the temp file for a dead run's
    except OSError:
        os.close(fd)
        temp.unlink()
        raise
    return fd


def _discard(created: asyncio.Future[int], temp: Path) -> None:
    """The temp file of a cancelled download, once made: closed and removed."""
    if created.cancelled() or created.exception() is not None:
        return
    os.close(created.result())
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()


def _make_durable(
    fd: int, temp: Path, dest: Path, set_aside: SetAside | None, got: Downloaded
) -> None:
    """Flush the file to disk, rename it into place, and make the rename durable too.

    A file already there with the very same bytes is not set aside: no identical copy in
    versions/ (another runner of the same state saved this clip first)."""
    os.fsync(fd)
    if (
        set_aside is not None
        and os.path.lexists(dest)
        and not file_matches(dest, got.sha256, got.size)
    ):
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


def remove_stale_parts(folder: Path, *, grace: float = PART_GRACE_SECONDS) -> int:
    """Remove the temp files (``.<name>.<hex>.part``) killed runs left under ``folder``.

    A live writer holds a lock on its temp file, so a file nobody holds belongs to a dead run,
    whatever its age; ``grace`` spares one created this instant (before its writer locks it).
    Returns how many were removed.
    """
    removed = 0
    for root, _, names in os.walk(folder):
        for name in names:
            if _PART.fullmatch(name) and _abandoned(Path(root, name), grace):
                with contextlib.suppress(OSError):
                    os.unlink(Path(root, name))
                    removed += 1
    return removed


def _hold(fd: int) -> None:
    """Lock the temp file open on ``fd`` for as long as it stays open."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _abandoned(path: Path, grace: float) -> bool:
    """True when no live process holds ``path`` (nor touched it in the last ``grace`` s)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        if time.time() - os.fstat(fd).st_mtime < grace:
            return False
        if fcntl is None:  # no locks here: only the age tells
            return time.time() - os.fstat(fd).st_mtime >= STALE_PART_SECONDS
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live writer holds it
        return True
    finally:
        os.close(fd)
