"""One provider account's limits across runners: job slots held in the shared state.

Midjourney runs a fixed number of jobs at once per account, whatever number of runners share
its key. Each run keeps its own adaptive share (``AdaptiveSlots``: it backs off on "queue
full"), and every slot it uses is also taken in the state, leased like a submission, so that
runners sharing the state never exceed the account's limit together, and a dead runner's slots
come back when its lease expires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from orchestrator.engine.pacing import AdaptiveSlots
from orchestrator.state import Store

WAIT = 0.05  # seconds between tries for a slot another runner holds


class SharedSlots:
    """``AdaptiveSlots`` whose every slot is also an account slot in the state."""

    def __init__(
        self,
        local: AdaptiveSlots,
        store: Store,
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

    @property
    def effective(self) -> int:
        """Slots this run may use right now."""
        return self._local.effective

    @property
    def in_use(self) -> int:
        """Slots this run holds."""
        return self._local.in_use

    async def acquire(self) -> None:
        """Take a slot of this run, then one of the account's (waiting for other runners)."""
        await self._local.acquire()
        try:
            store, args = self._store, (self._account, self._owner, self._limit, self._lease)
            while not store.acquire_slot(*args):
                await self._sleep(WAIT)
        except BaseException:
            self._local.release()
            raise

    def release(self) -> None:
        """Give both back."""
        try:
            self._store.release_slot(self._account, self._owner)
        finally:
            self._local.release()

    def overloaded(self) -> None:
        """The account is overloaded: this run backs off."""
        self._local.overloaded()

    def succeeded(self) -> None:
        """A task finished: this run may grow back."""
        self._local.succeeded()
