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

from orchestrator.terminal import write_raw

Clock = Callable[[], float]

_CLEAR_LINE = "\r\x1b[K"


@dataclass(frozen=True)
class Snapshot:
    """Counts and money of a run at one moment."""

    total: int
    done: int
    in_flight: int
    failed: int
    spent: float
    reserved: float = 0.0


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


def _money(amount: float) -> str:
    return f"{amount:.2f}"


def describe(snap: Snapshot) -> str:
    """One human line for a snapshot."""
    text = (
        f"{snap.done}/{snap.total} done, {snap.in_flight} in flight, "
        f"{snap.failed} failed, spent {_money(snap.spent)}"
    )
    if snap.reserved:
        text += f" (+{_money(snap.reserved)} reserved)"
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
    """``--quiet``: only the summary at the end."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def update(self, snap: Snapshot) -> None:
        """Show nothing."""

    def event(self, kind: str, **fields: object) -> None:
        """Show nothing."""

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

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._live = ""

    def update(self, snap: Snapshot) -> None:
        """Redraw the live line when it changed."""
        line = f"mjv: {describe(snap)}"
        if line != self._live:
            self._live = line
            self._draw("")

    def event(self, kind: str, **fields: object) -> None:
        """Print the event on its own line and keep the live line below it."""
        self._draw(f"mjv: {format_event(kind, fields)}\n")

    def close(self, snap: Snapshot) -> None:
        """Replace the live line with the final summary."""
        self._live = ""
        write_raw(self._stream, _CLEAR_LINE)  # mjv's own control sequence: not escaped
        super().close(snap)

    def _draw(self, above: str) -> None:
        write_raw(self._stream, _CLEAR_LINE)
        self._stream.write(f"{above}{self._live}")
        self._stream.flush()


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
        """Write the event as an object whose ``event`` key is ``kind``."""
        if not self._quiet:
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
        return TtyProgress(stream)
    return LogProgress(stream, clock, interval)
