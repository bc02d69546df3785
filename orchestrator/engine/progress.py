"""Progress reporting of a run: a live line on a terminal, log lines in CI, or JSON lines."""

from __future__ import annotations

import errno
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol, TextIO

from orchestrator import console
from orchestrator.money import shown

Clock = Callable[[], float]

# Reported by name even with --quiet: what a person has to act on.
PROBLEMS = frozenset({"failed", "in_doubt", "blocked", "stuck", "lease_lost", "leases_lost"})


@dataclass(frozen=True)
class Snapshot:
    """Counts and money of a run at one moment."""

    total: int
    done: int
    in_flight: int
    failed: int
    spent: float
    reserved: float = 0.0
    queued: int = 0  # not started yet
    unfinished: int = 0  # ended neither done nor failed: blocked, stuck, in doubt, stopped
    already_done: int = 0  # done before this run started (counted in ``done``)
    currency: str = ""  # the unit of the money (pricing.currency)


class Progress(Protocol):
    """Where the engine reports what a run is doing."""

    def update(self, snap: Snapshot) -> None:
        """Show the current counts (implementations decide how often)."""

    def event(self, kind: str, **fields: object) -> None:
        """Report a notable thing: a job submitted, failed, in doubt, retried."""

    def close(self, snap: Snapshot) -> None:
        """End the display with a one-line summary."""


class GuardedStream(io.TextIOBase):
    """A text stream whose reader may go away (``mjv run ... | head``, a closed stderr).

    The first broken pipe (or closed file) silences it for good: the run goes on, keeps its
    state and exits with its own code instead of dying on a write.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        """Write ``text`` unless the reader is gone (then drop it)."""
        if not self.broken:
            try:
                self.stream.write(text)
            except (OSError, ValueError) as exc:
                self._break(exc)
        return len(text)

    def flush(self) -> None:
        """Flush unless the reader is gone."""
        if not self.broken:
            try:
                self.stream.flush()
            except (OSError, ValueError) as exc:
                self._break(exc)

    def isatty(self) -> bool:
        """Whether the wrapped stream is a terminal."""
        try:
            return not self.broken and bool(self.stream.isatty())
        except (OSError, ValueError):
            return False

    def writable(self) -> bool:
        """Always: writes to a gone reader are dropped, not refused."""
        return True

    def _break(self, exc: Exception) -> None:
        gone = not isinstance(exc, OSError) or exc.errno in (errno.EPIPE, errno.EBADF)
        if not gone:  # a full disk behind a redirect is a real error
            raise exc
        self.broken = True


def describe(snap: Snapshot) -> str:
    """One human line for a snapshot."""
    parts = [f"{snap.done}/{snap.total} done", f"{snap.in_flight} in flight"]
    parts += [f"{snap.queued} queued"] if snap.queued else []
    parts.append(f"{snap.failed} failed")
    parts += [f"{snap.unfinished} not finished"] if snap.unfinished else []
    parts.append(f"spent {shown(snap.spent, snap.currency)}")
    text = ", ".join(parts)
    if snap.reserved:
        text += f" (+{shown(snap.reserved, snap.currency)} reserved)"
    return text


def _format_value(value: object) -> str:
    text = str(value)
    # Quote values a reader could not otherwise split from the next field.
    if not text or any(c.isspace() or c == '"' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def format_event(kind: str, fields: dict[str, object]) -> str:
    """One human line for an event: ``kind key=value ...``."""
    parts = [kind, *(f"{key}={_format_value(value)}" for key, value in fields.items())]
    return " ".join(parts)


class _Throttle:
    """True at most once every ``interval`` seconds of the clock (always the first time)."""

    def __init__(self, clock: Clock, interval: float) -> None:
        self._clock = clock
        self._interval = interval
        self._last = -math.inf

    def ready(self) -> bool:
        now = self._clock()
        if now - self._last < self._interval:
            return False
        self._last = now
        return True


class QuietProgress:
    """``--quiet``: only problems (a job failed, in doubt, blocked, stuck) and the summary."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def update(self, snap: Snapshot) -> None:
        """Show nothing."""

    def event(self, kind: str, **fields: object) -> None:
        """Print problems only."""
        if kind in PROBLEMS:
            self._stream.write(f"mjv: {format_event(kind, fields)}\n")
            self._stream.flush()

    def close(self, snap: Snapshot) -> None:
        """Print the one-line summary."""
        self._stream.write(f"mjv: {describe(snap)}\n")
        self._stream.flush()


class LogProgress(QuietProgress):
    """Not a terminal (CI): event lines, and a progress line at most every ``interval`` s."""

    def __init__(self, stream: TextIO, clock: Clock, interval: float) -> None:
        super().__init__(stream)
        self._throttle = _Throttle(clock, interval)

    def update(self, snap: Snapshot) -> None:
        """Print a progress line unless one was printed less than ``interval`` ago."""
        if self._throttle.ready():
            self._write(f"mjv: {describe(snap)}")

    def event(self, kind: str, **fields: object) -> None:
        """Print the event as one line."""
        self._write(f"mjv: {format_event(kind, fields)}")

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


class TtyProgress(QuietProgress):
    """A terminal: one live status line rewritten in place, events printed above it."""

    def __init__(self, stream: TextIO, clock: Clock = time.monotonic, colour: bool = False) -> None:
        super().__init__(stream)
        self._live = ""
        self._clock, self._start, self._colour = clock, clock(), colour

    def update(self, snap: Snapshot) -> None:
        """Redraw the live line when it changed."""
        line = self._line(snap)
        if line != self._live:
            self._live = line
            console.redraw(self._stream, "", self._live)

    def event(self, kind: str, **fields: object) -> None:
        """Print the event on its own line and keep the live line below it."""
        colour = "red" if kind in PROBLEMS and self._colour else None
        console.redraw(self._stream, f"mjv: {format_event(kind, fields)}", self._live, colour)

    def close(self, snap: Snapshot) -> None:
        """Replace the live line with the final summary."""
        self._live = ""
        console.clear(self._stream)
        super().close(snap)

    def _line(self, snap: Snapshot) -> str:
        """``done/total``, in flight, queued, failed, spent with its unit, and the ETA."""
        paint, on = console.paint, self._colour
        finished = snap.done - snap.already_done + snap.failed + snap.unfinished
        left = snap.in_flight + snap.queued
        eta = console.eta_seconds(left, finished, self._clock() - self._start)
        parts = [
            paint(f"{snap.done}/{snap.total} done", "green", on and snap.done > 0),
            f"{snap.in_flight} in flight",
            f"{snap.queued} queued",
            paint(f"{snap.failed} failed", "red", on and snap.failed > 0),
        ]
        if snap.unfinished:
            parts.append(paint(f"{snap.unfinished} not finished", "yellow", on))
        spent = f"spent {shown(snap.spent, snap.currency)}"
        if snap.reserved:
            spent += f" (+{shown(snap.reserved, snap.currency)} reserved)"
        parts += [spent, paint(f"ETA {console.duration(eta)}", "dim", on)]
        return "mjv: " + " · ".join(parts)


class JsonProgress:
    """``--json-log``: one JSON object per line for each event and each periodic snapshot."""

    def __init__(self, stream: TextIO, clock: Clock, interval: float, *, quiet: bool) -> None:
        self._stream = stream
        self._clock = clock
        self._start = clock()
        self._quiet = quiet
        self._throttle = _Throttle(clock, interval)

    def update(self, snap: Snapshot) -> None:
        """Write a ``progress`` object unless one was written less than ``interval`` ago."""
        if not self._quiet and self._throttle.ready():
            self._write({"event": "progress", **asdict(snap)})

    def event(self, kind: str, **fields: object) -> None:
        """Write the event as an object whose ``event`` key is ``kind`` (--quiet: problems)."""
        if not self._quiet or kind in PROBLEMS:
            self._write({**fields, "event": kind})

    def close(self, snap: Snapshot) -> None:
        """Write the final ``summary`` object."""
        self._write({"event": "summary", **asdict(snap)})

    def _write(self, record: dict[str, object]) -> None:
        record["elapsed"] = round(self._clock() - self._start, 3)
        self._stream.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        self._stream.flush()


def make_progress(
    stream: TextIO,
    *,
    quiet: bool,
    json_log: bool,
    is_tty: bool | None = None,
    clock: Clock = time.monotonic,
    interval: float = 5.0,
) -> Progress:
    """Pick the display: JSON lines, quiet, a live terminal line, or plain log lines."""
    if json_log:
        return JsonProgress(stream, clock, interval, quiet=quiet)
    if quiet:
        return QuietProgress(stream)
    if is_tty is None:
        is_tty = bool(getattr(stream, "isatty", lambda: False)())
    if is_tty:
        return TtyProgress(stream, clock, colour=console.colour_wanted(stream))
    return LogProgress(stream, clock, interval)
