"""Pacing of a run: request rate, in-flight job slots, retry delays, failure streaks, budget."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass

from orchestrator.engine.ratelimit import TokenBucket
from orchestrator.errors import (
    BudgetError,
    NoAccountError,
    QueueFullError,
    RateLimitedError,
    TaskFailedError,
)

__all__ = ["AdaptiveSlots", "Budget", "RetryPolicy", "Streak", "TokenBucket"]

# Float sums (0.6 + 0.6 + 0.6 ...) must not miss an exact fit.
_EPSILON = 1e-9


class AdaptiveSlots:
    """In-flight job slots (``--concurrency``) with AIMD back-off when the account is overloaded."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("AdaptiveSlots needs limit >= 1")
        self._limit = limit
        self._effective = limit
        self._in_use = 0
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def effective(self) -> int:
        """Slots usable right now (between 1 and the configured limit)."""
        return self._effective

    @property
    def in_use(self) -> int:
        """Slots currently held."""
        return self._in_use

    @property
    def free(self) -> int:
        """Slots a job asking now would get at once."""
        return 0 if self._waiters else max(0, self._effective - self._in_use)

    async def acquire(self) -> None:
        """Wait for a free slot (first come, first served) and hold it."""
        if not self._waiters and self._in_use < self._effective:
            self._in_use += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise

    def release(self) -> None:
        """Give a held slot back."""
        if self._in_use <= 0:
            raise RuntimeError("AdaptiveSlots.release() without a held slot")
        self._in_use -= 1
        self._wake()

    def overloaded(self) -> None:
        """Queue full or no account: halve the effective limit (floor 1)."""
        self._effective = max(1, self._effective // 2)
        self._successes = 0

    def succeeded(self) -> None:
        """Additive increase: one more slot after ``effective`` successes, up to the limit."""
        if self._effective >= self._limit:
            return
        self._successes += 1
        if self._successes >= self._effective:
            self._effective += 1
            self._successes = 0
            self._wake()

    def _wake(self) -> None:
        """Hand free slots to waiters in arrival order."""
        while self._waiters and self._in_use < self._effective:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_use += 1
                waiter.set_result(None)

    def _abandon(self, waiter: asyncio.Future[None]) -> None:
        """A cancelled waiter leaves the queue, or returns the slot it was just given."""
        if waiter.done() and not waiter.cancelled():
            self.release()
        elif waiter in self._waiters:
            self._waiters.remove(waiter)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter per error class; final errors are never retried."""

    max_attempts: int = 5
    base: float = 2.0
    cap: float = 120.0
    account_base: float = 30.0

    def delay(self, error: BaseException, attempt: int, rng: random.Random) -> float | None:
        """Seconds to wait before retrying after failed ``attempt`` (1-based), or None if final."""
        if not self.retryable(error) or attempt >= self.max_attempts:
            return None
        account = isinstance(error, QueueFullError | NoAccountError)
        base = self.account_base if account else self.base
        wait = rng.uniform(0.0, min(self.cap, base * 2 ** (attempt - 1)))
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait

    @staticmethod
    def retryable(error: BaseException) -> bool:
        """True when the error class (or this instance) says a retry may succeed."""
        if isinstance(error, TaskFailedError) and error.moderation:
            return False
        return bool(getattr(error, "retryable", False))


class Streak:
    """Counts failures of one kind in a row (banned prompts, an unreachable provider)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._count = 0

    @property
    def count(self) -> int:
        """Banned prompts in a row so far."""
        return self._count

    def record(self, banned: bool) -> bool:
        """Count one outcome; True when the streak reaches the limit (0 disables the check)."""
        self._count = self._count + 1 if banned else 0
        return self._limit > 0 and self._count >= self._limit


def _money(amount: float) -> str:
    """Format an amount without float noise (1.7999999999 -> 1.8)."""
    return f"{round(amount, 6):g}"


class Budget:
    """Spending cap (``--max-cost`` / ``budget.max_cost``): reserve before every submission."""

    def __init__(self, max_cost: float | None, committed: float = 0.0) -> None:
        self._max_cost = max_cost
        self._committed = committed
        self._spent = committed
        self._reserved = 0.0
        self._refunded = 0.0
        self.currency = ""  # the unit its messages show (pricing.currency)

    @property
    def max_cost(self) -> float | None:
        """The cap, or None when spending is unlimited."""
        return self._max_cost

    @property
    def spent(self) -> float:
        """Money spent (earlier runs included), refunds deducted, to the micro-unit."""
        return round(self._spent, 6)

    @property
    def spent_this_run(self) -> float:
        """Money spent by this run alone (refunds in this run deducted)."""
        return round(self._spent - self._committed, 6)

    @property
    def reserved(self) -> float:
        """Money reserved for submissions whose answer has not come yet."""
        return self._reserved

    @property
    def refunded(self) -> float:
        """Money the gateway gave back for tasks that ended in FAILURE, in this run."""
        return self._refunded

    def reserve(self, amount: float | None, what: str) -> None:
        """Reserve the price of a submission, or raise BudgetError if it could exceed the cap."""
        cap = self._max_cost
        if cap is not None and amount is None:
            raise BudgetError(
                f"{what}: the price of this submission is unknown and a cost cap of "
                f"{self._shown(cap)} is set; give its price under 'pricing:' in the spec "
                "(e.g. pricing: {fast: 0.6}) or run without a cap"
            )
        amount = amount or 0.0
        if cap is not None and self._spent + self._reserved + amount > cap + _EPSILON:
            raise BudgetError(
                f"{what}: costs {self._shown(amount)}, which would exceed the cost cap of "
                f"{self._shown(cap)} ({self._shown(self._spent)} spent, "
                f"{self._shown(self._reserved)} reserved)"
            )
        self._reserved += amount

    def _shown(self, amount: float) -> str:
        return f"{_money(amount)} {self.currency}".rstrip()

    def charge(self, amount: float | None) -> None:
        """The submission was accepted: its reservation becomes spending."""
        amount = amount or 0.0
        # A resumed submission may be charged without a reservation made in this process.
        self._reserved = max(0.0, self._reserved - amount)
        self._spent += amount

    def release(self, amount: float | None) -> None:
        """The submission was not accepted: drop its reservation."""
        self._reserved = max(0.0, self._reserved - (amount or 0.0))

    def refund(self, amount: float | None) -> None:
        """A charged task ended in FAILURE and the gateway refunded it."""
        amount = amount or 0.0
        self._spent -= amount
        self._refunded += amount
