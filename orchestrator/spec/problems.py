"""One finding in a spec file, with the line and column it points at."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """A problem at ``file:line:col`` (1-based) and JSON ``path`` (``$.jobs[0].name``)."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def format(self) -> str:
        """Return ``file:line:col: <JSON path>: message``."""
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {self.message}"


def json_path(parts: Sequence[str | int]) -> str:
    """Render path parts as a JSON path: ``$.jobs[0].matrix.mood``."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}"
        else:
            text += f"[{part!r}]"
    return text


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    names = {str(choice): choice for choice in choices}
    close = difflib.get_close_matches(str(word), list(names), n=1, cutoff=0.6)
    return f" (did you mean {names[close[0]]!r}?)" if close else ""


def sort_problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """Drop duplicates and order problems by file position."""
    return tuple(sorted(set(problems), key=lambda p: (p.file, p.line, p.col, p.path, p.message)))


def internal_error(exc: BaseException) -> str:
    """The message for an unexpected exception while checking a spec (a bug, not the spec's)."""
    detail = f": {exc}" if str(exc) else ""
    return f"internal error while checking this spec: {type(exc).__name__}{detail}"
