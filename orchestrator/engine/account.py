"""One provider account's limits across runners: job slots held in the shared state.

Midjourney runs a fixed number of jobs at once per account, whatever number of runners share
its key. Each run keeps its own adaptive share (``AdaptiveSlots``: it backs off on "queue
full"), and every slot it uses is also taken in the state, leased like a submission, so that
runners sharing the state never exceed the account's limit together, and a dead runner's slots
come back when its lease expires.

A slot given back while another job of this run waits for one goes straight to that job (no
round trip to the state); otherwise it is released in the state, which wakes the runners
waiting for it (NOTIFY, or this process's bell), with a slow safety poll behind. In each run
one asker asks the state for as many slots as its jobs wait for, in one statement.

``ClaimsAhead`` keeps that hand-over in the run: a runner claims only a few jobs more than the
slots it holds, so the campaign's other jobs stay free for the runners whose slots free up
(before, the first runners claimed most of them at once, and then handed their slots to the
others through the state, 80-90 ms each on a database 10 ms away).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from orchestrator.engine.pacing import AdaptiveSlots
from orchestrator.state import AsyncStore
from orchestrator.state.sql_leases import slots_channel

CLAIMS_AHEAD = 2  # jobs of a run claimed and waiting for a slot, beyond the slots free


class ClaimsAhead:
    """The jobs of this run that are claimed and wait for a slot: as many as ``free()`` slots
    would take at once (a run starts on every free slot), else at most ``limit``.

    A job joins before its claim and leaves once it holds a slot, or when it needs none (its
    claim failed, another runner finished it, it ended).
    """

    def __init__(self, free: Callable[[], int], limit: int = CLAIMS_AHEAD) -> None:
        self._free = free
        self._limit = limit
        self._in: set[str] = set()
        self._left = asyncio.Event()

    async def join(self, key: str) -> None:
        """Wait for room, then count ``key`` as claimed ahead (once, however often called)."""
        while key not in self._in:
            if len(self._in) < max(self._limit, self._free()):
                self._in.add(key)
                return
            self._left.clear()
            await self._left.wait()

    def leave(self, key: str) -> None:
        """``key`` no longer waits for a slot (a no-op when it was not counted)."""
        if key in self._in:
            self._in.remove(key)
            self._left.set()


class _Waiter:
    """A job of this run waiting for an account slot: handed one, or the asker's error."""

    def __init__(self) -> None:
        self.handed = False
        self.error: BaseException | None = None
        self.wake = asyncio.Event()


class SharedSlots:
    """``AdaptiveSlots`` whose every slot is also an account slot in the state.

    One asker per run asks the state for as many account slots as jobs of the run wait for,
    in one statement, and hands them out in line; it waits for a release (a ring, or the
    safety poll) while the account is full. Before, every waiting job of every runner asked
    on each release: at the end of a round a dozen transactions queued on the team's
    connections, and the slots went out one ask at a time.
    """

    def __init__(
        self,
        local: AdaptiveSlots,
        store: AsyncStore,
        *,
        account: str,
        owner: str,
        limit: int,
        lease_seconds: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._local = local
        self._store = store
        self._account = account
        self._owner = owner
        self._limit = limit
        self._lease = lease_seconds
        self._sleep = sleep
        self._waiters: deque[_Waiter] = deque()
        self._asker: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()  # a job joined the line, or the line emptied
        self._spare = 0  # account slots given back, kept until the loop's next turn
        self._releasing = 0  # account slots to release in the state at the loop's next turn
        self._account_full = False  # the last ask got fewer account slots than it asked for

    @property
    def effective(self) -> int:
        """Slots this run may use right now."""
        return self._local.effective

    @property
    def in_use(self) -> int:
        """Slots this run holds."""
        return self._local.in_use

    @property
    def free(self) -> int:
        """Slots a job asking now would get at once: none once the account was found full."""
        return 0 if self._account_full or self._waiters else self._local.free

    async def acquire(self) -> None:
        """Take a slot of this run, then one of the account's (waiting for other runners)."""
        await self._local.acquire()
        try:
            await self._account_slot()
        except BaseException:
            self._local.release()
            raise

    async def _account_slot(self) -> None:
        if self._spare:  # just given back by a job of this run: no round trip
            self._spare -= 1
            return
        if self._releasing:  # about to go back to the state: still this run's
            self._releasing -= 1
            return
        waiter = _Waiter()
        self._waiters.append(waiter)
        if self._asker is None or self._asker.done():
            self._asker = asyncio.ensure_future(self._ask())
        elif not self._account_full:  # the asker may be waiting with slots still free
            self._poke.set()
        try:
            await waiter.wake.wait()
        except BaseException:
            if waiter.handed:  # handed one, then cancelled before it could use it
                self._give_back()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if not self._waiters:
                self._poke.set()  # the asker can stop
        if waiter.error is not None:
            raise waiter.error

    async def _ask(self) -> None:
        """While jobs wait: take as many account slots as they need, hand them out in line."""
        args = (self._account, self._owner, self._limit, self._lease)
        try:
            with self._store.bell(slots_channel(self._account)) as bell:
                while self._waiters:
                    wanted = len(self._waiters)
                    taken = await self._store.acquire_slot(*args, wanted)
                    self._account_full = taken < wanted
                    for _ in range(taken):
                        self._give_back()  # to the jobs in line; slots left over go back
                    if self._waiters and self._account_full:
                        self._poke.clear()
                        await _first(bell.wait(), self._poke.wait(), self._sleep(bell.poll))
        except Exception as exc:  # the store failed: every job in line hears why
            while self._waiters:
                waiter = self._waiters.popleft()
                waiter.error = exc
                waiter.wake.set()

    def release(self) -> None:
        """Give both back: the account slot to a job of this run waiting for one, if any.

        With none waiting, the account slot is kept for one turn of the event loop: the job
        of this run that the local slot just woke asks for it first (before, the slot went
        to the state while that job asked the state for one, and lost it to other runners).
        """
        handed = False
        try:
            handed = self._hand_over()
        finally:
            self._local.release()  # wakes a job waiting for a local slot, if any
        if not handed:
            self._spare += 1
            asyncio.get_running_loop().call_soon(self._drop_spare)

    def _drop_spare(self) -> None:
        """Release in the state an account slot no job of this run took."""
        if self._spare:
            self._spare -= 1
            self._release_soon()

    def _give_back(self) -> None:
        if not self._hand_over():
            self._release_soon()

    def _release_soon(self) -> None:
        """Release an account slot in the state with the others given back in this turn of
        the loop, in one statement: a runner's releases take turns in the state, and at a
        round's end three one at a time took 60-120 ms, the last slot's hand-over with them."""
        self._releasing += 1
        if self._releasing == 1:
            asyncio.get_running_loop().call_soon(self._release)

    def _release(self) -> None:
        count, self._releasing = self._releasing, 0
        if count:
            self._store.post(self._store.sync.release_slot, self._account, self._owner, count)

    def _hand_over(self) -> bool:
        """Hand an account slot to the longest-waiting job of this run; False if none waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.handed:
                waiter.handed = True
                waiter.wake.set()
                return True
        return False

    def overloaded(self) -> None:
        """The account is overloaded: this run backs off."""
        self._local.overloaded()

    def succeeded(self) -> None:
        """A task finished: this run may grow back."""
        self._local.succeeded()


async def _first(*waits: Awaitable[object]) -> None:
    """Until the first of ``waits`` is done (the others are cancelled)."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
