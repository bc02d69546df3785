"""What a run is made of: its options, its collaborators, and what it reports back."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engine.account import SharedSlots
from orchestrator.engine.pacing import AdaptiveSlots, Budget, RetryPolicy, Streak, TokenBucket
from orchestrator.engine.progress import Progress
from orchestrator.model import JobStatus, RunOptions
from orchestrator.provider import Provider
from orchestrator.state import AsyncStore, Reads, make_owner

LEASE_SECONDS = 60.0
UNREACHABLE_IN_ROW = 8  # connection failures in a row that stop the run: the provider is gone


@dataclass(frozen=True)
class RunConfig(RunOptions):
    """Effective options of one run: the spec's ``run:`` section, flags, and engine knobs."""

    max_cost: float | None = None
    in_doubt: str = "resubmit"  # "resubmit" | "skip"
    select: tuple[str, ...] = ()
    force: tuple[str, ...] = ()
    retry_failed: bool = False  # `mjv retry`: retryable failures get a new attempt
    include_final: bool = False  # `mjv retry --include-final`: final failures too
    lease_seconds: float = LEASE_SECONDS
    download_concurrency: int = 4
    retry_base: float = 2.0  # seconds; full-jitter exponential backoff
    retry_cap: float = 120.0
    account_backoff: float = 30.0  # queue full / no account: the whole account backs off


@dataclass
class Runtime:
    """The collaborators a run is given: nothing here is created by the engine itself."""

    client: Provider
    store: AsyncStore  # a plain Store passed in is wrapped: the run never waits on its state
    progress: Progress
    output_dir: Path
    owner: str = field(default_factory=make_owner)
    account: str = ""  # the provider account; set: its job slots are shared through the store
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time  # for expiries the provider states in wall time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if not isinstance(self.store, AsyncStore):
            # On a virtual clock (tests) time passes only when the engine sleeps: the store
            # then answers inline, never from a thread while virtual time runs on.
            self.store = AsyncStore(self.store, inline=self.sleep is not asyncio.sleep)


def burst(config: RunOptions) -> float:
    """Requests that may go at once: a wave of submissions filling every slot, plus one poll."""
    return max(1.0, config.max_rps, config.concurrency + config.submit_ahead + 1.0)


@dataclass
class Pacing:
    """The shared throttles of a run."""

    bucket: TokenBucket
    slots: AdaptiveSlots | SharedSlots
    policy: RetryPolicy
    budget: Budget
    banned: Streak
    unreachable: Streak
    hd_refused: str | None = None  # set once the account refused HD: HD jobs fail at once

    @classmethod
    def build(
        cls,
        config: RunConfig,
        spent: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> Pacing:
        """Make the throttles for ``config``, with ``spent`` already counted against the budget."""
        return cls(
            bucket=TokenBucket(config.max_rps, burst(config), clock=clock, sleep=sleep),
            slots=AdaptiveSlots(config.concurrency + config.submit_ahead),
            policy=RetryPolicy(
                max_attempts=config.max_attempts,
                base=config.retry_base,
                cap=config.retry_cap,
                account_base=config.account_backoff,
            ),
            budget=Budget(config.max_cost, committed=spent),
            banned=Streak(config.max_banned_in_row),
            unreachable=Streak(UNREACHABLE_IN_ROW),
        )


@dataclass(frozen=True)
class JobOutcome:
    """How one job ended in this run."""

    name: str
    status: JobStatus  # done, failed, in_doubt, blocked, stuck or interrupted
    reason: str | None = None
    final: bool = False


@dataclass(frozen=True)
class RunReport:
    """What a run did: outcomes per job and counts of real work."""

    outcomes: tuple[JobOutcome, ...]
    submitted: int
    downloaded: int
    spent: float  # the campaign's spending in all (earlier runs included), refunds deducted
    spent_this_run: float = 0.0
    interrupted: bool = False
    stopped: str | None = None  # why the run stopped early (auth, quota, banned prompts)
    resent_in_doubt: tuple[str, ...] = ()  # in-doubt submissions sent again (maybe paid twice)
    budget_note: str | None = None  # the cap cannot pay for every chain: only whole ones run
    unpriced: int = 0  # accepted submissions of unknown price (their cost is not in ``spent``)
    # The state as the manifest was built from it at the end: the report and review reuse it.
    results: Reads | None = field(default=None, compare=False, repr=False)

    def count(self, status: JobStatus) -> int:
        """Number of jobs that ended with ``status``."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)
