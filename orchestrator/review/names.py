"""Clip paths as the manifest and the review file name them: ``<job folder>/<file>``."""

from __future__ import annotations

import re

_CLIP = re.compile(r"^(?:ext([1-4])-)?clip-([0-9]+)\.mp4$")


def clip_step(clip: str) -> tuple[str, int, int]:
    """(job folder, step, batch index) of a clip path; step 0 is the base clip.

    A name that is not a clip's gets step -1 (the review file's schema refuses it earlier).
    """
    folder, _, name = clip.rpartition("/")
    match = _CLIP.match(name)
    if match is None:
        return folder, -1, -1
    return folder, int(match.group(1) or 0), int(match.group(2))


def clip_path(folder: str, name: str) -> str:
    """The path of clip file ``name`` of the job folder ``folder``."""
    return f"{folder}/{name}"
