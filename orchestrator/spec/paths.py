"""Where a spec may reach: its own folder tree, or the git repository that holds it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Confinement:
    """The folders a spec's files and output must stay in (symlinks resolved)."""

    spec_dir: Path
    roots: tuple[Path, ...]

    @classmethod
    def of(cls, spec_dir: Path) -> Confinement:
        """The spec's folder, plus the top of its git work tree (a folder holding ``.git``)."""
        spec_dir = spec_dir.resolve()
        for folder in (spec_dir, *spec_dir.parents):
            if (folder / ".git").exists():
                return cls(spec_dir, (spec_dir, folder))
        return cls(spec_dir, (spec_dir,))

    def contains(self, path: Path) -> bool:
        """True when ``path`` (resolved, symlinks followed) lies inside one of the roots."""
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            return False
        return any(resolved.is_relative_to(root) for root in self.roots)

    def describe(self) -> str:
        """Name the allowed folders for a message."""
        if len(self.roots) == 1:
            return "the spec's folder"
        return f"the spec's folder or its git repository ({self.roots[1]})"


def path_text_problem(text: str) -> str | None:
    """Why a spec-relative path is refused before touching the disk (NUL byte, absolute)."""
    if "\0" in text:
        return "contains a NUL byte"
    if text.startswith(("/", "\\")) or _DRIVE.match(text):
        return "is an absolute path; paths are relative to the spec's folder"
    return None


def glob_problem(pattern: str) -> str | None:
    """Why a glob pattern is refused: a path problem, or a ``..`` segment climbing out."""
    problem = path_text_problem(pattern)
    if problem is None and ".." in re.split(r"[/\\]", pattern):
        return "has a '..' segment; a glob may not climb out of the spec's folder"
    return problem
