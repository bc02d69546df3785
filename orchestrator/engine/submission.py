"""The lifecycle of one submission: claim, reserve, send (intent at the wire), record, poll."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace

from orchestrator.engine.account import ClaimsAhead
from orchestrator.engine.context import Pacing, RunConfig, Runtime
from orchestrator.engine.holds import ChainHolds
from orchestrator.engine.outcomes import (
    HaltedError,
    InDoubtError,
    JobFailedError,
    JobStuckError,
    RunStoppedError,
    StopRequestedError,
)
from orchestrator.engine.poller import Poller
from orchestrator.errors import (
    AccountBusyError,
    BannedPromptError,
    BudgetError,
    HdUnavailableError,
    IdempotencyConflictError,
    LeaseLostError,
    MjvError,
    NoAccountError,
    ProviderError,
    ProviderUnreachableError,
    QueueFullError,
    RateLimitedError,
    StateError,
    SubmitOutcomeUnknownError,
    TaskNotFoundError,
    TaskTimeoutError,
)
from orchestrator.model import fingerprint
from orchestrator.provider import OnSend
from orchestrator.state import Status, Submission, SubmissionSpec, holder_is_dead
from orchestrator.state.async_store import Bell
from orchestrator.state.sql_leases import lease_channel, success_channel
from orchestrator.wire import Task, classify_failure

__all__ = [
    "HaltedError",
    "InDoubtError",
    "JobFailedError",
    "JobStuckError",
    "Order",
    "RunStoppedError",
    "StopRequestedError",
    "Submitter",
]

Send = Callable[[str, OnSend], Awaitable[str]]  # (idempotency key, on_send) -> task id or URL
# The answer is lost but the request may have been taken: the submission stays in doubt.
_UNKNOWN = (SubmitOutcomeUnknownError, IdempotencyConflictError)
UNANSWERED_POLLS = 8  # polls in a row without an answer that end a stopped run's waiting


@dataclass(frozen=True)
class Order:
    """One submission to make: its key, what to call it, its price, and how to send it."""

    key: str
    what: str  # for messages: "job sneaker-orbit" or "job sneaker-orbit, extension 2"
    price: float | None
    send: Send
    mode: str = "fast"
    hd: bool = False  # an HD video: refused at once once the account proved it has no HD
    modal_prompt: str = ""
    modal_price: float | None = None
    on_dead_frame: Callable[[], None] | None = None  # the start image died: upload it again
    saved: bool = False  # its clips are downloaded once it succeeded (a video, an extension)


class Submitter:
    """Drives submissions to a succeeded state, never sending one twice without need."""

    def __init__(
        self, rt: Runtime, config: RunConfig, pacing: Pacing, poller: Poller, stop: asyncio.Event
    ) -> None:
        self._rt = rt
        self._config = config
        self._pacing = pacing
        self._poller = poller
        self._stop = stop
        self._critical: set[asyncio.Task[str]] = set()
        self._ensuring: dict[str, asyncio.Future[Submission]] = {}
        self._refreshed: set[str] = set()  # keys whose start image was uploaded again
        self._ahead = ClaimsAhead(lambda: pacing.slots.free)
        self.submitted = 0
        self.resent_in_doubt: list[str] = []
        self.halted: str | None = None  # why the run sends nothing more (it drains instead)
        self.holds = ChainHolds(pacing.budget, rt.store, rt.owner, config.lease_seconds)
        self.unpriced = 0  # accepted submissions whose price is unknown (never counted as 0)

    def halt(self, reason: str) -> None:
        """Send nothing new from now on; tasks already accepted are still polled and saved.

        The first reason is kept. Polls that go unanswered now end the wait (the provider
        may be gone): a later run picks those tasks up.
        """
        if self.halted is None:
            self.halted = reason
            self._poller.give_up_after(UNANSWERED_POLLS)
            self._rt.progress.event("halted", reason=reason)

    def _refuse_if_halted(self, order: Order) -> None:
        if self.halted is not None:
            raise HaltedError(f"{order.what}: not sent, the run stopped: {self.halted}")

    async def ensure(self, order: Order) -> Submission:
        """Return the submission once succeeded, submitting or polling it as its state needs.

        Jobs whose requests are identical share one submission: the second waits for the first.
        """
        running = self._ensuring.get(order.key)
        if running is None:
            running = asyncio.ensure_future(self._ensure(order))
            self._ensuring[order.key] = running
            running.add_done_callback(lambda _: self._ensuring.pop(order.key, None))
            # Its waiters may all be gone (a stopped run): the outcome is still collected.
            running.add_done_callback(_collect)
        return await asyncio.shield(running)

    async def _ensure(self, order: Order) -> Submission:
        while True:
            try:
                return await self._drive(order)
            except LeaseLostError:
                # Another runner holds this submission now (our lease expired): its result
                # counts; wait for it, or take over if it dies in turn.
                self._rt.progress.event("lease_lost", what=order.what)

    async def _drive(self, order: Order) -> Submission:
        try:
            return await self._drive_claimed(order)
        finally:
            self._ahead.leave(order.key)

    async def _drive_claimed(self, order: Order) -> Submission:
        done = await self._claim(order.key, saved=order.saved, ahead=True)
        if done is not None:  # another runner finished it while this one waited
            return done
        tries, holding, retried = 0, False, False
        while True:
            sub = await self._get(order.key)
            if sub.status in (Status.SUCCEEDED, Status.DOWNLOADED):
                return sub
            if sub.status in (Status.SUBMITTED, Status.RUNNING):
                if not holding:  # a task left in flight by an earlier run takes a slot too
                    await self._pacing.slots.acquire()
                    self._ahead.leave(order.key)
                holding = False
                tries, succeeded = await self._await_task(order, sub, tries)
                if succeeded is not None:
                    return succeeded
            elif sub.status == Status.FAILED:
                await self._retry_or_raise(order, sub, retried)
                retried = True
            else:
                tries, holding = await self._submit(order, sub, tries)

    async def submit_once(self, order: Order, *, resend_in_doubt: bool = False) -> str:
        """Send a submission that yields its result at once (an upload, a modal answer);
        return that result.

        It takes no job slot and is never polled; a new call after success starts a new attempt
        (an expired upload is uploaded, and paid, again). ``resend_in_doubt`` repeats an
        attempt in doubt with its own idempotency key instead of starting a new one.
        """
        self._refuse_if_halted(order)
        await self._claim(order.key)
        sub = await self._get(order.key)
        if sub.status != Status.PENDING and not (resend_in_doubt and sub.in_doubt):
            await self._rt.store.reset(order.key, "sent again")
        tries = 0
        while True:
            sub = await self._get(order.key)
            try:
                self._refuse_if_halted(order)
                held = self.holds.take(order.key)  # its chain reserved its price already
                if held is None:
                    self._pacing.budget.reserve(order.price, order.what)
                async with held or self._held(order):
                    result = await self._send(order, sub, sub.status == Status.SUBMITTING)
            except ProviderError as exc:
                self._stop_if_fatal(exc)
                tries = await self._rejected(order, exc, tries + 1)
                continue
            await self._rt.store.record_success(order.key, (), result)
            return result

    async def drain(self) -> None:
        """Stop what is left and wait for every send already under way (those are shielded)."""
        for running in list(self._ensuring.values()):
            running.cancel()
        await asyncio.gather(*self._ensuring.values(), *self._critical, return_exceptions=True)

    async def _get(self, key: str) -> Submission:
        sub = await self._rt.store.get(key)
        if sub is None:
            raise MjvError(f"submission {key[:12]} is not declared in the state file")
        return sub

    async def _claim(
        self, key: str, *, saved: bool = False, ahead: bool = False
    ) -> Submission | None:
        # Another live runner holds this submission: wait for it to finish or to die. One
        # whose clips it downloads (``saved``) is waited for until they are: this runner then
        # verifies them instead of racing it for the same files (and decoding them again).
        # A step that takes a slot (``ahead``) is claimed only with room in ``ClaimsAhead``.
        store, owner, lease = self._rt.store, self._rt.owner, self._config.lease_seconds
        done = (Status.DOWNLOADED,) if saved else (Status.SUCCEEDED, Status.DOWNLOADED)
        every = max(self._config.poll_interval, self._rt.store.sync.wake_poll)
        # A waiter for the clips is not woken by the task's success (a read for nothing).
        channels = (lease_channel(key),) if saved else (lease_channel(key), success_channel(key))
        with store.bell(*channels) as bell:
            while True:
                if ahead:
                    await self._ahead.join(key)
                if await store.claim(key, owner, lease):
                    break
                self._ahead.leave(key)  # held by another runner: waiting for it takes no room
                while True:
                    sub = await self._get(key)
                    if sub.status in done:
                        return sub  # finished by the holder: as read, no need to read it again
                    if sub.lease_owner is None or holder_is_dead(sub.lease_owner):
                        break  # given back, or its holder died: try to take it
                    # A ring is news of the holder's work (read again, no claim); the safety
                    # poll is when its lease may have expired (claim again).
                    if not await _rang(bell, self._rt.sleep(every)):
                        break
        return None

    async def _retry_or_raise(self, order: Order, sub: Submission, retried: bool) -> None:
        # A failure is retried once per `mjv retry`, not again when the new attempt fails too.
        final = sub.failure == "final"
        allowed = self._config.retry_failed and (not final or self._config.include_final)
        if retried or not allowed:
            raise JobFailedError(f"{order.what}: {sub.reason}", final)
        await self._rt.store.reset(order.key, "retry requested")

    async def _submit(self, order: Order, sub: Submission, tries: int) -> tuple[int, bool]:
        in_doubt = sub.status == Status.SUBMITTING
        self._refuse_if_halted(order)
        if in_doubt and self._config.in_doubt == "skip":
            raise InDoubtError(f"{order.what}: in doubt (sent, answer lost); skipped")
        await self._refuse_known_hd(order)
        if in_doubt:
            self.resent_in_doubt.append(order.what)
            self._rt.progress.event("in_doubt", what=order.what, action="resubmit")
        pacing = self._pacing
        await pacing.slots.acquire()
        self._ahead.leave(order.key)
        try:
            if self._stop.is_set():
                raise StopRequestedError(order.what)
            self._refuse_if_halted(order)
            held = self.holds.take(order.key)  # its chain reserved its price already
            if held is None:
                pacing.budget.reserve(order.price, order.what)
            async with held or self._held(order):
                task_id = await self._send(order, sub, in_doubt)
        except ProviderError as exc:
            try:  # judged before the slot frees, so nobody sends after a stop verdict
                self._stop_if_fatal(exc)
            finally:
                pacing.slots.release()
            return await self._rejected(order, exc, tries + 1), False
        except BaseException:
            pacing.slots.release()
            raise
        self.submitted += 1
        pacing.unreachable.record(False)
        self._rt.progress.event("submitted", what=order.what, task=task_id)
        return tries, True

    @contextlib.asynccontextmanager
    async def _held(self, order: Order) -> AsyncIterator[None]:
        """Hold the price in the shared state while sending, so that runners sharing a
        campaign never pass its cap together (the intent then counts it as reserved)."""
        cap, price = self._config.max_cost, order.price
        if cap is None or not price:
            yield
            return
        store, owner = self._rt.store, self._rt.owner
        if not await store.reserve(owner, price, cap, self._config.lease_seconds):
            self._pacing.budget.release(price)
            raise BudgetError(
                f"{order.what}: costs {price:g}, which would pass the cost cap of {cap:g} "
                "with what this campaign's runners have spent and hold"
            )
        try:
            yield
        finally:
            await store.unreserve(owner, price)

    async def _refuse_known_hd(self, order: Order) -> None:
        refused = self._pacing.hd_refused
        if order.hd and refused is not None:
            await self._rt.store.record_failure(order.key, final=True, reason=refused, refund=False)
            raise JobFailedError(f"{order.what}: {refused}", final=True)

    async def _send(self, order: Order, sub: Submission, same_attempt: bool) -> str:
        # Request and answer form one unit that Ctrl-C must not cut in half.
        section = asyncio.ensure_future(self._critical_section(order, sub, same_attempt))
        self._critical.add(section)
        section.add_done_callback(self._critical.discard)
        return await asyncio.shield(section)

    async def _critical_section(self, order: Order, sub: Submission, same_attempt: bool) -> str:
        # ``sub`` as read under our lease: only our writes change it (a lost lease fails the
        # intent's fence, and a recorded attempt other than ``attempt`` stops the send).
        store, pacing = self._rt.store, self._pacing
        await pacing.bucket.acquire()
        attempt = sub.attempt + 1
        # Every send is its own attempt; an in-doubt resend repeats the lost one's key, so a
        # gateway that honours Idempotency-Key does not charge it twice.
        sent_key = f"{order.key[:32]}-a{attempt}"
        if same_attempt and sub.status == Status.SUBMITTING and sub.attempt > 0:
            sent_key = await self._in_doubt_key(sub)
        intents: list[int] = []
        sent = threading.Event()  # the request is on the wire: the state may record again

        async def commit_intent() -> None:
            # After every wait, just before the first byte leaves: only now can it be charged.
            self._refuse_if_halted(order)  # a stop judged while this send waited its turn
            got = await store.record_intent(
                order.key, self._rt.owner, order.price or 0.0, sent_key=sent_key, sent=sent
            )
            if got != attempt:
                raise StateError(f"{order.what}: attempt {got} recorded, {attempt} expected")
            intents.append(got)

        commit_intent.written = sent.set  # type: ignore[attr-defined]  # see client._SendHook
        try:
            try:
                result = await order.send(sent_key, commit_intent)
            finally:
                sent.set()
        except ProviderError as exc:
            pacing.budget.release(order.price)
            if exc.stops_run:  # at once: sends waiting their turn must not go out after it
                self.halt(str(exc))
            # An unknown outcome stays "submitting": the next send repeats the same key.
            if intents and not isinstance(exc, _UNKNOWN):
                await self._record_refusal(order, exc)
            raise
        except BaseException:
            pacing.budget.release(order.price)
            raise
        await store.record_task(order.key, result, order.price or 0.0, owner=self._rt.owner)
        pacing.budget.charge(order.price)
        self.unpriced += order.price is None
        return result

    async def _in_doubt_key(self, sub: Submission) -> str:
        """The idempotency key the in-doubt attempt of ``sub`` was sent with."""
        attempts = await self._rt.store.attempts(sub.key)
        last = attempts[-1] if attempts else None
        return (last.sent_key if last else None) or f"{sub.key[:32]}-a{sub.attempt}"

    async def _record_refusal(self, order: Order, exc: ProviderError) -> None:
        final = not exc.retryable and not exc.stops_run
        if isinstance(exc, HdUnavailableError):
            self._pacing.hd_refused = f"this account cannot make HD clips ({exc})"
        store, owner = self._rt.store, self._rt.owner
        if final:
            await store.record_failure(
                order.key, final=True, reason=str(exc), refund=False, owner=owner
            )
        else:
            await store.record_rejected(order.key, str(exc), owner=owner)

    def _stop_if_fatal(self, exc: ProviderError) -> None:
        banned, unreachable = self._pacing.banned, self._pacing.unreachable
        reason = None
        if exc.stops_run:
            reason = str(exc)
        elif isinstance(exc, BannedPromptError) and banned.record(True):
            reason = f"{banned.count} banned prompts in a row (protecting the account)"
        elif unreachable.record(isinstance(exc, ProviderUnreachableError)):
            reason = f"the provider cannot be reached ({unreachable.count} tries in a row): {exc}"
        if reason is not None:
            self.halt(reason)
            raise RunStoppedError(reason) from exc

    async def _rejected(self, order: Order, exc: ProviderError, tries: int) -> int:
        pacing = self._pacing
        if isinstance(exc, QueueFullError | NoAccountError):
            pacing.slots.overloaded()
        if isinstance(exc, RateLimitedError) and exc.retry_after:
            pacing.bucket.pause(exc.retry_after)
        # A full account (CoreSize, QueueSize) is nobody's fault: it never uses up the tries.
        busy = isinstance(exc, AccountBusyError)
        counted = min(tries, pacing.policy.max_attempts - 1) if busy else tries
        delay = pacing.policy.delay(exc, counted, self._rt.rng)
        if delay is None and isinstance(exc, _UNKNOWN):
            raise InDoubtError(f"{order.what}: in doubt after {tries} tries: {exc}") from exc
        if delay is None:
            if exc.retryable and (await self._get(order.key)).status != Status.FAILED:
                await self._rt.store.record_failure(
                    order.key, final=False, reason=str(exc), refund=False
                )
            message = str(exc)
            if isinstance(exc, HdUnavailableError):
                message = self._pacing.hd_refused or message
            raise JobFailedError(f"{order.what}: {message}", final=not exc.retryable)
        self._rt.progress.event("retry", what=order.what, reason=str(exc), delay=round(delay, 2))
        await self._rt.sleep(delay)
        return tries - 1 if busy else tries

    async def _await_task(
        self, order: Order, sub: Submission, tries: int
    ) -> tuple[int, Submission | None]:
        """Poll the task to its end; (tries, the submission as recorded when it succeeded)."""
        assert sub.task_id is not None
        store, pacing = self._rt.store, self._pacing
        try:
            task = await self._watch(order, sub.task_id, sub.status)
        except TaskTimeoutError as exc:
            # Slow is not dead: the task keeps its id and a later run polls it again.
            raise JobStuckError(f"{order.what}: {exc}; run again later to pick it up") from exc
        except TaskNotFoundError as exc:
            await store.record_failure(order.key, final=True, reason=str(exc), refund=False)
            raise JobFailedError(f"{order.what}: {exc}", final=True) from exc
        except ProviderError as exc:
            if exc.stops_run:
                self.halt(str(exc))
                raise RunStoppedError(str(exc)) from exc
            # The task id stays recorded: the next run polls it again, never re-submits it.
            message = f"{order.what}: polling failed ({exc}); run again to pick it up"
            raise JobFailedError(message, final=False) from exc
        finally:
            pacing.slots.release()
        if task.succeeded:
            await store.record_success(
                order.key, task.clip_urls, task.image_url, owner=self._rt.owner
            )
            pacing.slots.succeeded()
            pacing.banned.record(False)
            # The write is fenced by this run's lease: the row is ``sub`` with what it set
            # (no read back, a round trip on a database away).
            urls = tuple(task.clip_urls)
            done = replace(sub, status=Status.SUCCEEDED, clip_urls=urls, image_url=task.image_url)
            return tries, done
        return await self._task_failed(order, task, tries), None

    async def _task_failed(self, order: Order, task: Task, tries: int) -> int:
        failure = classify_failure(task)
        # CometAPI and APIMart refund a FAILURE; a provider that documents no refund says so.
        refund = task.status == "FAILURE" and task.properties.get("refunded") is not False
        # Judged before the write is awaited: the freed slot must not send after a stop verdict.
        verdict = self._verdict(failure) if failure.moderation else None
        await self._rt.store.record_failure(
            order.key,
            final=failure.moderation,
            reason=failure.reason,
            refund=refund,
            owner=self._rt.owner,
        )
        if refund:
            self._pacing.budget.refund(order.price)
        if verdict is not None:
            raise verdict
        if failure.kind == "start_frame" and self._refresh_frame(order):
            await self._rt.store.reset(order.key, f"start image uploaded again after: {failure}")
            return tries
        return await self._after_failure(order, failure, tries + 1)

    def _verdict(self, failure: ProviderError) -> RunStoppedError | None:
        """The stop a moderated task calls for (the stop is set at once), or None."""
        try:
            self._stop_if_fatal(BannedPromptError(str(failure)))
        except RunStoppedError as stop:
            return stop
        return None

    def _refresh_frame(self, order: Order) -> bool:
        """A dead start frame gets one fresh upload per run; True when one is arranged."""
        if order.on_dead_frame is None or order.key in self._refreshed:
            return False
        self._refreshed.add(order.key)
        order.on_dead_frame()
        self._rt.progress.event("reupload", what=order.what)
        return True

    async def _watch(self, order: Order, task_id: str, status: str) -> Task:
        """Poll ``task_id`` to a terminal state, answering a modal with the order's prompt."""
        on_progress = self._mark_running(order.key) if status == Status.SUBMITTED else None
        task = await self._poller.watch(task_id, on_progress)
        while task.status == "MODAL":
            task_id = await self._answer_modal(order, task_id)
            task = await self._poller.watch(task_id)
        return task

    async def _answer_modal(self, order: Order, task_id: str) -> str:
        """Answer a MODAL task: a paid call of its own (kind ``modal``), claimed, reserved,
        held and sent with its intent committed like any other; a resumed run finds it
        answered (and paid) already and polls the task it gave, or resends it in doubt."""
        self._refuse_if_halted(order)
        store, owner = self._rt.store, self._rt.owner
        answer = await self._modal_order(order, task_id)
        done = await store.get(answer.key)
        if (
            done is not None
            and done.status in (Status.SUCCEEDED, Status.DOWNLOADED)
            and done.task_id
        ):
            new_id = done.task_id
        else:
            if done is not None and done.in_doubt:
                if self._config.in_doubt == "skip":
                    raise InDoubtError(f"{answer.what}: in doubt (sent, answer lost); skipped")
                self.resent_in_doubt.append(answer.what)
            new_id = await self.submit_once(answer, resend_in_doubt=True)
        await store.record_followup(order.key, new_id, 0.0, owner=owner)
        return new_id

    async def _modal_order(self, order: Order, task_id: str) -> Order:
        """The modal answer to ``task_id`` as a submission of its own, declared on first use."""
        key = fingerprint({"modal": order.key, "task": task_id})
        store, parent = self._rt.store, await self._get(order.key)
        if await store.get(key) is None:
            await store.declare([SubmissionSpec(key, parent.job, "modal", parent.step, order.key)])
        client, prompt, mode = self._rt.client, order.modal_prompt, order.mode

        async def send(_state: str, on_send: OnSend) -> str:
            return await client.modal(task_id, prompt, mode=mode, on_send=on_send)

        what = f"{order.what} (modal answer)"
        return Order(key=key, what=what, price=order.modal_price, send=send, mode=mode)

    def _mark_running(self, key: str) -> Callable[[Task], None]:
        def mark(task: Task) -> None:
            if task.status == "IN_PROGRESS":
                # Cosmetic: a runner that lost the lease leaves it to the new holder.
                store = self._rt.store
                done = store.post(store.sync.record_running, key, owner=self._rt.owner)
                done.add_done_callback(_ignore_lost_lease)

        return mark

    async def _after_failure(self, order: Order, exc: ProviderError, tries: int) -> int:
        delay = self._pacing.policy.delay(exc, tries, self._rt.rng)
        if delay is None:
            raise JobFailedError(f"{order.what}: {exc}", final=not exc.retryable)
        self._rt.progress.event("retry", what=order.what, reason=str(exc), delay=round(delay, 2))
        await self._rt.sleep(delay)
        await self._rt.store.reset(order.key, f"new attempt after: {exc}")
        return tries


def _ignore_lost_lease(done: Future[object]) -> None:
    """Marking a task running is cosmetic: a runner that lost the lease leaves it to the new
    holder, and a state that failed says so at the next write that matters."""
    if not done.cancelled():
        exc = done.exception()
        if exc is not None and not isinstance(exc, LeaseLostError | StateError):
            raise exc


async def _rang(bell: Bell, timer: Awaitable[None]) -> bool:
    """Until ``bell`` rings (True) or ``timer`` ends (False), whichever comes first."""
    ring = asyncio.ensure_future(bell.wait())
    tick = asyncio.ensure_future(timer)
    try:
        await asyncio.wait((ring, tick), return_when=asyncio.FIRST_COMPLETED)
    finally:
        tick.cancel()
        ring.cancel()
    return ring.done() and not ring.cancelled()


def _collect(future: asyncio.Future[Submission]) -> None:
    """Mark a finished future's exception as seen, so asyncio never logs it as lost."""
    if not future.cancelled():
        future.exception()
