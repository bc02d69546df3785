"""Files replaced whole or not at all: a temp file beside the target, fsynced, swapped in with
``os.replace``, and the folder fsynced so the swap itself survives a power cut."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 1 << 20


def replace_file(
    path: Path, chunks: Iterable[bytes], *, keep_if_same: bool = False, durable: bool = True
) -> bool:
    """Write ``chunks`` as the new content of ``path``; return True when it was replaced.

    With ``keep_if_same`` a file already holding exactly these bytes is left untouched (its
    modification time too) and False is returned. ``durable=False`` skips the fsyncs: still
    whole or not at all for a reader, but a power cut may lose it. The temp file has a name of
    its own, so two writers of one file never share it; OSError is the caller's to turn into
    its own error.
    """
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = _write(temp, chunks) if durable else _fill(temp, chunks)
        if keep_if_same and _digest(path) == digest:
            return False
        os.replace(temp, path)
        if durable:
            fsync_dir(path.parent)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    return True


def _write(temp: Path, chunks: Iterable[bytes]) -> str:
    """Write ``chunks`` to a new ``temp`` and flush it to disk; return the sha256."""
    return _fill(temp, chunks, sync=True)


def _fill(temp: Path, chunks: Iterable[bytes], *, sync: bool = False) -> str:
    """Write ``chunks`` to a new ``temp`` (flushed to disk with ``sync``); return the sha256."""
    digest = hashlib.sha256()
    with temp.open("xb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            digest.update(chunk)
        handle.flush()
        if sync:
            os.fsync(handle.fileno())
    return digest.hexdigest()


def _digest(path: Path) -> str | None:
    """The sha256 of the file at ``path``; None when there is none (or it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; some platforms cannot open a folder: best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
