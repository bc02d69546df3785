"""Signals that stop a run: SIGINT (Ctrl-C) and SIGTERM (what CI runners and containers send).

The first of either asks the run to stop as Ctrl-C always did: no new submission, the state
left consistent and resumable, temp files removed, the summary printed. The exit code says
which one it was (130, or 143 for SIGTERM). A second signal of the same kind stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

from orchestrator.errors import EXIT_INTERRUPTED, EXIT_TERMINATED

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Which stop signal a run received first (None while none has)."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None

    @contextlib.contextmanager
    def installed(self, stop: asyncio.Event) -> Iterator[None]:
        """Within the running loop: the first SIGINT or SIGTERM sets ``stop``."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._first, loop, signum, stop)
        try:
            yield
        finally:
            for signum in STOP_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signum)

    def _first(
        self, loop: asyncio.AbstractEventLoop, signum: signal.Signals, stop: asyncio.Event
    ) -> None:
        # The default handler is back for this signal: a second one stops at once.
        self.received = self.received or signum
        stop.set()
        loop.remove_signal_handler(signum)

    def exit_code(self, code: int) -> int:
        """``code``, or 143 for an interrupted run that SIGTERM stopped."""
        if code == EXIT_INTERRUPTED and self.received == signal.SIGTERM:
            return EXIT_TERMINATED
        return code
