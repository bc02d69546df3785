"""Finding spec files under a folder: recursively, past output folders and hidden ones."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path

SPEC_SUFFIXES = (".yaml", ".yml")
MANIFEST = "manifest.json"  # a folder holding one is a run's output, never a spec's home
NOT_SPECS = (".review.yaml", ".review.yml")  # review files, committed beside their spec


def find_specs(folder: Path, exclude: Iterable[str] = ()) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` under ``folder``, sorted, skipping what no spec lives in.

    Skipped: hidden files and folders (``.git``, ``.mjv``, ``.github``), output folders (they
    hold a ``manifest.json``), review files (``<spec>.review.yaml``) and every path matching
    one of the ``exclude`` globs, matched against the path relative to ``folder`` and against
    the bare name.
    """
    patterns = tuple(exclude)
    return sorted(_walk(folder, folder, patterns))


def _walk(root: Path, folder: Path, patterns: tuple[str, ...]) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith(".") or _excluded(root, path, patterns):
            continue
        if entry.is_dir(follow_symlinks=False):
            if not (path / MANIFEST).is_file():
                yield from _walk(root, path, patterns)
        elif _is_spec(entry.name) and entry.is_file():
            yield path


def _is_spec(name: str) -> bool:
    return name.endswith(SPEC_SUFFIXES) and not name.endswith(NOT_SPECS)


def _excluded(root: Path, path: Path, patterns: tuple[str, ...]) -> bool:
    relative = path.relative_to(root).as_posix()
    return any(fnmatchcase(relative, p) or fnmatchcase(path.name, p) for p in patterns)
