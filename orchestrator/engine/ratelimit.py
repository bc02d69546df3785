"""The request-rate limit of a run: a token bucket with a line for submissions and one for polls."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Refilled token fractions must not miss an exact fit.
_EPSILON = 1e-9


class TokenBucket:
    """Request-rate limit (``--max-rps``) shared by every request of a run.

    Tokens refill at ``rate`` per second up to ``burst``, so any ``t`` seconds carry at most
    ``burst + rate * t`` requests. Waiters stand in two lines served one token at a time: urgent
    requests (submissions) first, background ones (polls) only when no urgent one waits.
    """

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("TokenBucket needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._stamp = clock()
        self._paused_until = -math.inf
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._background: deque[asyncio.Future[None]] = deque()
        self._server: asyncio.Task[None] | None = None  # hands out tokens while anyone waits

    @property
    def burst(self) -> float:
        """Requests that may go at once after a quiet spell."""
        return self._burst

    @property
    def rate(self) -> float:
        """Requests per second on average."""
        return self._rate

    def share(self, rate: float) -> None:
        """Run at ``rate`` from now on (this runner's share of the account's rate)."""
        self._wait_needed()  # tokens earned so far at the old rate are kept
        self._rate = max(rate, 1e-6)

    async def acquire(self) -> None:
        """Wait until an urgent request (a submission) may be sent, then take its token."""
        await self._take(self._urgent)

    async def acquire_background(self) -> None:
        """Like ``acquire``, but served only while no urgent request waits (for polls)."""
        await self._take(self._background)

    def pause(self, seconds: float) -> None:
        """Honour a Retry-After: nobody gets a token before now + ``seconds``."""
        now = self._clock()
        until = now + max(0.0, seconds)
        if until <= self._paused_until:
            return
        self._paused_until = until
        # No tokens pile up during the pause; one request may go at its end, then the rate.
        self._tokens = 1.0
        self._stamp = until

    async def _take(self, line: deque[asyncio.Future[None]]) -> None:
        if self._server is None and self._wait_needed() <= 0:  # nobody waits: no queueing
            self._tokens -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.append(waiter)
        if self._server is None:
            self._server = asyncio.ensure_future(self._serve())
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # given a token it will not use
                self._tokens = min(self._burst, self._tokens + 1)
            raise

    async def _serve(self) -> None:
        """Give tokens to the waiters as they refill; the only place that sleeps."""
        try:
            while (line := self._next_line()) is not None:
                wait = self._wait_needed()
                if wait > 0:
                    await self._sleep(wait)
                    continue
                self._tokens -= 1
                line.popleft().set_result(None)
        finally:
            self._server = None
            for waiter in (*self._urgent, *self._background):  # left only if we were cancelled
                waiter.cancel()

    def _next_line(self) -> deque[asyncio.Future[None]] | None:
        """The line served next: urgent first; waiters cancelled meanwhile leave."""
        for line in (self._urgent, self._background):
            while line and line[0].done():
                line.popleft()
            if line:
                return line
        return None

    def _wait_needed(self) -> float:
        """Refill the bucket and return how long to wait for one token (0 when it is there)."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        if now > self._stamp:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
        if self._tokens >= 1 - _EPSILON:
            return 0.0
        return (1 - self._tokens) / self._rate
