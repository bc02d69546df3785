"""When a running task should end, from the progress its polls report.

A poll every ``interval`` seconds sees a task's end between 0 and ``interval`` after it, half
an interval on average; on a shared account that is slot time nobody uses. Providers report
progress as ``"NN%"``: between the first and the latest poll that saw it move, the rate is
known, and the end is at most ``(100 - NN) / rate`` after a poll that saw ``NN`` (the
percentages are rounded down, so the rate is taken one point slower than they show, and the
provider read them before the answer arrived); the latest
few polls each give such a bound, the earliest is kept. When that moment comes between two
of the poller's ticks, the task leaves the first tick and is asked for on its own then
(``engine.poller``): never sooner after its last poll than the interval.

An estimate is a hint, never a promise: a provider whose progress does not move steadily
only costs one extra poll per task (``take`` gives each estimate once), and the regular
interval still follows.
"""

from __future__ import annotations

from collections import deque

MIN_SPAN = 10  # percentage points between the two polls the rate comes from
MIN_RATE = 1e-6  # points per second below which no end is estimated
RECENT = 5  # polls whose bounds are compared (older ones carry more of the rate's error)
AFTER = 0.005  # seconds past the estimate: the provider's end is not earlier than the bound
MIN_GAIN = 0.025  # seconds a poll must come before the next interval's to be worth a request


def percent(progress: str) -> int | None:
    """``"42%"`` -> 42; None for anything else (blank, or not a percentage)."""
    text = progress.strip().removesuffix("%")
    if not text.isdigit():
        return None
    value = int(text)
    return value if value <= 100 else None


class EndEstimate:
    """A task's end estimated from the first and the latest progress seen while it ran."""

    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None
        self._recent: deque[tuple[float, int]] = deque(maxlen=RECENT)
        self._taken = False

    def observe(self, at: float, progress: str) -> None:
        """Remember that the task reported ``progress`` in the answer received at ``at``."""
        value = percent(progress)
        if value is None or value == 0 or value == 100:  # not started, or nothing left
            return
        if self._first is None:
            self._first = (at, value)
        self._recent.append((at, value))

    def due(self) -> float | None:
        """When the task should have ended at the latest (None: not known yet)."""
        if self._first is None or not self._recent:
            return None
        (start, low), (at, high) = self._first, self._recent[-1]
        if high - low < MIN_SPAN or at <= start:
            return None
        rate = (high - low - 1) / (at - start)  # the slowest the rounded-down points allow
        if rate < MIN_RATE:
            return None
        return min(seen + (100 - value) / rate for seen, value in self._recent) + AFTER

    def pending(self, before: float) -> float | None:
        """The estimate if it falls ``MIN_GAIN`` before ``before`` and no poll was made for
        it yet (a poll a few milliseconds early gains nothing: polls every 20 ms, say)."""
        due = None if self._taken else self.due()
        return due if due is not None and due < before - MIN_GAIN else None

    def take(self) -> None:
        """A poll is made for this estimate: it is not offered again."""
        self._taken = True
