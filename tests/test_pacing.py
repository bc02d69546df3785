"""Pacing parts of the run engine: token bucket, AIMD slots, retry delays, streaks, budget."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from orchestrator import errors
from orchestrator.cli import build_parser
from orchestrator.commands.run import run_config
from orchestrator.engine.context import Pacing, RunConfig, burst
from orchestrator.engine.pacing import AdaptiveSlots, Budget, RetryPolicy, Streak, TokenBucket
from orchestrator.spec import load_campaign

T = TypeVar("T")


class VirtualTime:
    """Fake time for asyncio code: sleepers wake in time order once everything else is idle."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to its end, moving time on whenever nothing else can run."""
        return asyncio.run(self._drive(main))

    async def _drive(self, main: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(main)
        while not task.done():
            for _ in range(50):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            if task.done():
                break
            assert self._timers, "deadlock: nothing runs and nobody sleeps"
            when, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not future.done():
                future.set_result(None)
        return task.result()


def _bucket(clock: VirtualTime, rate: float, burst: float = 1.0) -> TokenBucket:
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)


# --- TokenBucket ------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "rate", "burst"), [(10, 2.0, 1.0), (7, 0.5, 3.0), (25, 10.0, 5.0)])
def test_bucket_takes_n_minus_burst_over_rate(n: int, rate: float, burst: float) -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, rate, burst)

    async def main() -> None:
        for _ in range(n):
            await bucket.acquire()

    clock.run(main())
    assert clock.now == pytest.approx((n - burst) / rate)


def test_bucket_concurrent_acquirers_are_paced_too() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 4.0)
    stamps: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        stamps.append(clock.now)

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(9)))

    clock.run(main())
    assert stamps == pytest.approx([i / 4.0 for i in range(9)])


def test_bucket_burst_lets_a_whole_wave_go_at_once() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 2.0, burst=12.0)
    stamps: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        stamps.append(clock.now)

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(14)))

    clock.run(main())
    assert stamps == pytest.approx([0.0] * 12 + [0.5, 1.0])


def test_bucket_keeps_the_average_under_mixed_load() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 2.0, burst=4.0)
    stamps: list[float] = []

    async def one(background: bool) -> None:
        await (bucket.acquire_background() if background else bucket.acquire())
        stamps.append(clock.now)

    async def main() -> None:
        await asyncio.gather(*(one(n % 3 == 0) for n in range(40)))

    clock.run(main())
    assert len(stamps) == 40
    for i, stamp in enumerate(stamps):  # at most burst + rate * t requests by time t
        assert i + 1 <= 4.0 + 2.0 * stamp + 1e-6
    assert max(stamps) == pytest.approx((40 - 4.0) / 2.0)


def test_bucket_serves_submissions_before_waiting_polls() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 1.0)
    order: list[tuple[str, float]] = []

    async def one(name: str, background: bool) -> None:
        await (bucket.acquire_background() if background else bucket.acquire())
        order.append((name, clock.now))

    async def main() -> None:
        await bucket.acquire()  # the bucket is empty now
        polls = [asyncio.create_task(one(f"poll{n}", True)) for n in range(2)]
        await asyncio.sleep(0)  # the polls were first in line...
        subs = [asyncio.create_task(one(f"sub{n}", False)) for n in range(2)]
        await asyncio.gather(*polls, *subs)

    clock.run(main())
    # ...yet the submissions go first, and the polls still keep to the rate.
    assert order == [("sub0", 1.0), ("sub1", 2.0), ("poll0", 3.0), ("poll1", 4.0)]


def test_bucket_poll_goes_at_once_when_no_submission_waits() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 1.0, burst=2.0)

    async def main() -> None:
        await bucket.acquire_background()
        await bucket.acquire_background()
        await bucket.acquire_background()

    clock.run(main())
    assert clock.now == pytest.approx(1.0)


def test_bucket_cancelled_waiter_gives_its_place_up() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 1.0)
    stamps: list[float] = []

    async def main() -> None:
        await bucket.acquire()
        doomed = asyncio.create_task(bucket.acquire())
        await asyncio.sleep(0)
        doomed.cancel()
        await bucket.acquire_background()
        stamps.append(clock.now)

    clock.run(main())
    assert stamps == [pytest.approx(1.0)]


def test_bucket_refills_while_idle_up_to_burst_only() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 1.0, burst=2.0)

    async def main() -> None:
        await bucket.acquire()
        await bucket.acquire()
        clock.now += 100.0  # idle for a long time: still only `burst` tokens
        start = clock.now
        for _ in range(4):
            await bucket.acquire()
        assert clock.now - start == pytest.approx(2.0)

    clock.run(main())


@pytest.mark.parametrize("background", [False, True])
def test_bucket_pause_blocks_until_retry_after(background: bool) -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 100.0, burst=5.0)
    take = bucket.acquire_background if background else bucket.acquire

    async def main() -> None:
        await take()
        bucket.pause(30.0)
        await take()
        assert clock.now == pytest.approx(30.0)
        # No burst piled up during the pause: the next request waits for the rate.
        await take()
        assert clock.now == pytest.approx(30.01)

    clock.run(main())


def test_bucket_shorter_pause_does_not_shorten_a_longer_one() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 1.0)

    async def main() -> None:
        bucket.pause(10.0)
        bucket.pause(2.0)
        await bucket.acquire()

    clock.run(main())
    assert clock.now == pytest.approx(10.0)


def test_bucket_pause_during_a_wait_is_honoured() -> None:
    clock = VirtualTime()
    bucket = _bucket(clock, 1.0)

    async def main() -> None:
        await bucket.acquire()
        waiting = asyncio.create_task(bucket.acquire())
        polling = asyncio.create_task(bucket.acquire_background())
        await asyncio.sleep(0)  # both are now waiting for a token
        bucket.pause(5.0)
        await waiting
        assert clock.now == pytest.approx(5.0)
        await polling
        assert clock.now == pytest.approx(6.0)

    clock.run(main())


def test_bucket_rejects_nonsense_rates() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0.0)
    with pytest.raises(ValueError):
        TokenBucket(1.0, burst=0.5)


def _take_at_once(pacing: Pacing, clock: VirtualTime, n: int) -> list[float]:
    """Times at which ``n`` concurrent submissions get their token from the run's bucket."""
    stamps: list[float] = []

    async def one() -> None:
        await pacing.bucket.acquire()
        stamps.append(clock.now)

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(n)))

    clock.run(main())
    return stamps


def test_default_pacing_sends_a_wave_of_submissions_and_a_poll_at_once() -> None:
    clock = VirtualTime()
    config = RunConfig(concurrency=12, max_rps=2.0)
    pacing = Pacing.build(config, 0.0, clock, clock.sleep)
    # 12 slots freed at once: the whole wave goes (plus the poll that saw it), then the rate.
    assert _take_at_once(pacing, clock, 15) == pytest.approx([0.0] * 13 + [0.5, 1.0])
    assert pacing.slots.effective == 12


def test_burst_is_never_below_the_rate() -> None:
    assert burst(RunConfig(concurrency=3, max_rps=20.0)) == 20.0
    assert burst(RunConfig(concurrency=3, max_rps=0.5)) == 4.0


def test_submit_ahead_adds_slots_and_burst() -> None:
    clock = VirtualTime()
    pacing = Pacing.build(
        RunConfig(concurrency=3, max_rps=2.0, submit_ahead=2), 0.0, clock, clock.sleep
    )
    assert pacing.slots.effective == 5
    assert _take_at_once(pacing, clock, 7) == pytest.approx([0.0] * 6 + [0.5])


SPEC = """\
version: 1
campaign: ahead
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit"
jobs:
  - {name: "{{ image }}", images: [a], prompts: [p]}
"""


def test_submit_ahead_flag_reaches_the_run_config(tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    campaign = load_campaign(spec)
    parser = build_parser()
    assert (
        run_config(campaign, parser.parse_args(["run", str(spec)]), retry=False).submit_ahead == 0
    )
    args = parser.parse_args(["run", str(spec), "--submit-ahead", "4"])
    assert run_config(campaign, args, retry=False).submit_ahead == 4


def test_submit_ahead_flag_refuses_negative_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["run", "c.yaml", "--submit-ahead", "-1"])
    assert exit_info.value.code == 2
    assert "--submit-ahead: must be at least 0, got -1" in capsys.readouterr().err


# --- AdaptiveSlots ----------------------------------------------------------------------------


def test_slots_aimd_arithmetic() -> None:
    slots = AdaptiveSlots(10)
    assert slots.effective == 10
    slots.overloaded()
    assert slots.effective == 5
    slots.overloaded()
    slots.overloaded()
    slots.overloaded()
    assert slots.effective == 1
    slots.overloaded()
    assert slots.effective == 1  # floor
    slots.succeeded()
    assert slots.effective == 2  # 1 success at effective 1
    slots.succeeded()
    assert slots.effective == 2
    slots.succeeded()
    assert slots.effective == 3  # 2 successes at effective 2
    for _ in range(3 + 4 + 5 + 6 + 7 + 8 + 9):
        slots.succeeded()
    assert slots.effective == 10
    for _ in range(50):
        slots.succeeded()
    assert slots.effective == 10  # never above the limit


def test_slots_overload_resets_the_success_count() -> None:
    slots = AdaptiveSlots(8)
    slots.overloaded()  # 4
    for _ in range(3):
        slots.succeeded()
    slots.overloaded()  # 2, and the 3 successes no longer count
    slots.succeeded()
    assert slots.effective == 2
    slots.succeeded()
    assert slots.effective == 3


def test_slots_acquire_blocks_at_the_effective_limit() -> None:
    async def main() -> None:
        slots = AdaptiveSlots(4)
        slots.overloaded()  # effective 2
        await slots.acquire()
        await slots.acquire()
        third = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not third.done()
        assert slots.in_use == 2
        slots.release()
        await asyncio.sleep(0)
        assert third.done()
        assert slots.in_use == 2

    asyncio.run(main())


def test_slots_growth_wakes_a_waiter() -> None:
    async def main() -> None:
        slots = AdaptiveSlots(2)
        slots.overloaded()  # effective 1
        await slots.acquire()
        waiter = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        assert not waiter.done()
        slots.succeeded()  # effective 2: a slot is free now
        await asyncio.sleep(0)
        assert waiter.done()
        assert slots.in_use == 2

    asyncio.run(main())


def test_slots_shrink_does_not_revoke_held_slots_but_blocks_new_ones() -> None:
    async def main() -> None:
        slots = AdaptiveSlots(4)
        for _ in range(4):
            await slots.acquire()
        slots.overloaded()  # effective 2, 4 held
        slots.release()
        slots.release()
        waiter = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        assert not waiter.done()  # 2 held == effective 2
        slots.release()
        await asyncio.sleep(0)
        assert waiter.done()

    asyncio.run(main())


def test_slots_cancelled_waiter_leaves_no_leak() -> None:
    async def main() -> None:
        slots = AdaptiveSlots(1)
        await slots.acquire()
        waiter = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        slots.release()
        assert slots.in_use == 0
        await slots.acquire()
        assert slots.in_use == 1

    asyncio.run(main())


def test_slots_release_without_acquire_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        AdaptiveSlots(1).release()


# --- RetryPolicy ------------------------------------------------------------------------------

RETRYABLE: list[BaseException] = [
    errors.RateLimitedError("429"),
    errors.ServerError("502"),
    errors.SubmitOutcomeUnknownError("reset"),
    errors.DownloadError("truncated"),
    errors.TaskFailedError("failed", reason="timed out", kind="transient"),
]
ACCOUNT: list[BaseException] = [
    errors.QueueFullError("queue full"),
    errors.NoAccountError("no account"),
]
FINAL: list[BaseException] = [
    errors.AuthenticationError("401"),
    errors.QuotaError("quota"),
    errors.BannedPromptError("banned", banned_word="x"),
    errors.InvalidRequestError("bad"),
    errors.TaskNotFoundError("gone"),
    errors.TaskFailedError("failed", reason="Image denied", kind="moderation"),
    errors.ProviderError("generic"),
    errors.SpecError("spec"),
    errors.UsageError("usage"),
    errors.ConfigError("config"),
    errors.StateError("state"),
    errors.BudgetError("budget"),
    errors.MjvError("base"),
    ValueError("a bug"),
]


@pytest.mark.parametrize("error", FINAL, ids=lambda e: type(e).__name__)
def test_final_errors_are_never_retried(error: BaseException) -> None:
    assert RetryPolicy().delay(error, 1, random.Random(1)) is None


@pytest.mark.parametrize("error", RETRYABLE + ACCOUNT, ids=lambda e: type(e).__name__)
def test_retryable_errors_stop_at_max_attempts(error: BaseException) -> None:
    policy = RetryPolicy(max_attempts=3)
    rng = random.Random(7)
    assert policy.delay(error, 1, rng) is not None
    assert policy.delay(error, 2, rng) is not None
    assert policy.delay(error, 3, rng) is None
    assert policy.delay(error, 4, rng) is None


@pytest.mark.parametrize("error", RETRYABLE, ids=lambda e: type(e).__name__)
def test_full_jitter_bounds(error: BaseException) -> None:
    policy = RetryPolicy(max_attempts=20, base=2.0, cap=50.0)
    rng = random.Random(42)
    for attempt in range(1, 10):
        ceiling = min(50.0, 2.0 * 2 ** (attempt - 1))
        delays = [policy.delay(error, attempt, rng) for _ in range(200)]
        assert all(d is not None and 0.0 <= d <= ceiling for d in delays)
        # Full jitter spreads over the whole range, not just near the ceiling.
        assert min(d for d in delays if d is not None) < ceiling * 0.2
        assert max(d for d in delays if d is not None) > ceiling * 0.8


@pytest.mark.parametrize("error", ACCOUNT, ids=lambda e: type(e).__name__)
def test_account_errors_use_the_long_base(error: BaseException) -> None:
    policy = RetryPolicy(max_attempts=10, base=2.0, cap=100.0, account_base=30.0)
    rng = random.Random(3)
    first = [policy.delay(error, 1, rng) for _ in range(200)]
    assert all(d is not None and 0.0 <= d <= 30.0 for d in first)
    assert max(d for d in first if d is not None) > 20.0  # well above the normal base of 2
    third = [policy.delay(error, 3, rng) for _ in range(200)]
    assert all(d is not None and d <= 100.0 for d in third)  # 120 capped at 100


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base=1.0, cap=4.0)
    rng = random.Random(0)
    error = errors.RateLimitedError("slow down", retry_after=45.0)
    assert all(policy.delay(error, 1, rng) == 45.0 for _ in range(50))
    small = errors.RateLimitedError("slow down", retry_after=0.5)
    delays = [policy.delay(small, 3, rng) for _ in range(200)]
    assert all(d is not None and 0.5 <= d <= 4.0 for d in delays)


def test_same_seed_same_delays() -> None:
    policy = RetryPolicy()
    error = errors.ServerError("503")
    first = [policy.delay(error, 2, random.Random(9)) for _ in range(3)]
    assert first[0] == first[1] == first[2]


# --- Streak -----------------------------------------------------------------------------


def test_banned_streak_trips_at_limit_and_resets_on_success() -> None:
    streak = Streak(3)
    assert streak.record(True) is False
    assert streak.record(True) is False
    assert streak.record(False) is False  # reset
    assert streak.count == 0
    assert streak.record(True) is False
    assert streak.record(True) is False
    assert streak.record(True) is True
    assert streak.record(True) is True  # stays tripped while the streak lasts


def test_banned_streak_zero_disables() -> None:
    streak = Streak(0)
    assert not any(streak.record(True) for _ in range(20))


# --- Budget -----------------------------------------------------------------------------------


def test_budget_arithmetic() -> None:
    budget = Budget(10.0, committed=1.2)
    budget.reserve(0.6, "job a")
    budget.reserve(0.6, "job b")
    assert budget.reserved == pytest.approx(1.2)
    budget.charge(0.6)
    budget.release(0.6)
    assert budget.spent == pytest.approx(1.8)
    assert budget.reserved == pytest.approx(0.0)
    budget.refund(0.6)
    assert budget.spent == pytest.approx(1.2)
    assert budget.refunded == pytest.approx(0.6)


def test_budget_allows_an_exact_fit_despite_float_noise() -> None:
    budget = Budget(1.8)
    for name in ("a", "b", "c"):
        budget.reserve(0.6, name)
        budget.charge(0.6)
    with pytest.raises(errors.BudgetError):
        budget.reserve(0.6, "d")
    tenths = Budget(0.3)
    for name in ("a", "b", "c"):
        tenths.reserve(0.1, name)  # 0.1 + 0.1 + 0.1 is 0.30000000000000004 > 0.3


def test_budget_refusal_names_job_cap_spent_and_reserved() -> None:
    budget = Budget(2.0, committed=1.0)
    budget.reserve(0.6, "shoe-01")
    with pytest.raises(errors.BudgetError) as caught:
        budget.reserve(0.6, "shoe-02")
    message = str(caught.value)
    assert "shoe-02" in message
    assert "cap of 2" in message
    assert "1 spent" in message
    assert "0.6 reserved" in message
    assert budget.reserved == pytest.approx(0.6)  # a refused reservation changes nothing


def test_budget_counts_reservations_against_the_cap() -> None:
    budget = Budget(1.0)
    budget.reserve(0.6, "a")
    with pytest.raises(errors.BudgetError):
        budget.reserve(0.6, "b")
    budget.release(0.6)
    budget.reserve(0.6, "b")


def test_budget_refund_frees_room() -> None:
    budget = Budget(1.0)
    budget.reserve(0.6, "a")
    budget.charge(0.6)
    with pytest.raises(errors.BudgetError):
        budget.reserve(0.6, "b")
    budget.refund(0.6)
    budget.reserve(0.6, "b")


def test_budget_unknown_price_with_cap_is_refused() -> None:
    budget = Budget(5.0)
    with pytest.raises(errors.BudgetError) as caught:
        budget.reserve(None, "relax-job")
    message = str(caught.value)
    assert "relax-job" in message
    assert "unknown" in message
    assert "pricing:" in message


def test_budget_without_cap_accepts_anything() -> None:
    budget = Budget(None)
    budget.reserve(None, "a")
    budget.reserve(1e9, "b")
    budget.charge(1e9)
    budget.charge(None)
    assert budget.spent == 1e9
    assert budget.reserved == 0.0


def test_budget_charge_without_reservation_keeps_reserved_at_zero() -> None:
    budget = Budget(10.0)
    budget.charge(0.6)  # a resumed submission accepted in an earlier process
    assert budget.reserved == 0.0
    assert budget.spent == pytest.approx(0.6)


def test_a_shared_rate_keeps_the_tokens_earned_and_slows_from_then_on() -> None:
    from orchestrator.engine.ratelimit import TokenBucket as Bucket

    now = [0.0]
    bucket = Bucket(4.0, burst=4.0, clock=lambda: now[0])
    bucket._tokens = 0.0  # a wave just went out
    now[0] = 0.5
    bucket.share(1.0)  # another runner joined: half of the account's rate each
    assert bucket.rate == 1.0
    assert bucket._wait_needed() == 0.0  # the 2 tokens earned at 4/s before the change are kept
    bucket._tokens = 0.0
    assert bucket._wait_needed() == pytest.approx(1.0)  # from now on, one a second
    bucket.share(0.0)  # never zero: a runner always keeps some rate
    assert bucket.rate > 0
