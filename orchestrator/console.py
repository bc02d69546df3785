"""mjv's own terminal drawing: the live status line, its colours and the ETA.

Every escape sequence and carriage return mjv writes on purpose comes from this module (text
from specs and providers never carries any), so a sanitising stream can let exactly these
through: they are written with ``terminal.write_raw``, everything else through the stream's
sanitiser.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TextIO

from orchestrator.terminal import write_raw

CLEAR_LINE = "\r\x1b[K"
_COLOURS = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}


def colour_wanted(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour on a terminal unless NO_COLOR is set (https://no-color.org) or TERM is dumb."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (OSError, ValueError):
        return False


def paint(text: str, colour: str, enabled: bool) -> str:
    """``text`` in ``colour`` (a name of _COLOURS) when colour is enabled."""
    if not enabled or not text:
        return text
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"


def emit(stream: TextIO, text: str) -> None:
    """Write mjv's own drawing (escape sequences included) past the output sanitiser."""
    write_raw(stream, text)
    stream.flush()


def redraw(stream: TextIO, above: str, live: str, colour: str | None = None) -> None:
    """Clear the live line, print ``above`` as a line of its own (if any), then the live line.

    ``above`` may carry text from specs and providers: it goes through the stream's
    sanitiser, only its colour codes raw. ``live`` is mjv's own (counts, money and the
    schema-checked currency label) and is written raw with its colours.
    """
    write_raw(stream, CLEAR_LINE)
    if above:
        if colour:
            write_raw(stream, f"\x1b[{_COLOURS[colour]}m")
        stream.write(above)
        if colour:
            write_raw(stream, "\x1b[0m")
        stream.write("\n")
    emit(stream, live)


def clear(stream: TextIO) -> None:
    """Remove the live line, leaving the cursor at the start of an empty line."""
    emit(stream, CLEAR_LINE)


def eta_seconds(remaining: int, finished: int, elapsed: float) -> float | None:
    """Seconds left at the pace observed so far (jobs finished by this run over its time)."""
    if remaining <= 0:
        return 0.0
    if finished <= 0 or elapsed <= 0:
        return None
    return remaining * elapsed / finished


def duration(seconds: float | None) -> str:
    """``1h05m``, ``4m10s``, ``12s``; ``?`` while nothing is known."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
