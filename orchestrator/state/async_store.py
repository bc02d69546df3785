"""The store as the engine sees it: the same methods, awaited, run on the store's own thread.

Why a thread and not an async driver: SQLite has none, and psycopg's async connection would
need a second copy of every statement path (the CLI's commands stay synchronous). One worker
thread per store connection keeps the one SQL store, serialises use of its connection as the
connection needs anyway, and costs a thread hop (tens of microseconds) against round trips of
milliseconds; the event loop never waits on the database.

Waiting for a release (a job slot, a lease) listens on the store's channel: PostgreSQL's
LISTEN/NOTIFY reaches every runner, the SQLite store rings inside its process; a slow poll
(the dialect's ``wake_poll``) stays as the safety net (other processes on one SQLite file,
a lost notification).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from orchestrator.state.lanes import Lanes
from orchestrator.state.store import Store

P = ParamSpec("P")
T = TypeVar("T")
# Longest the store's thread waits, after an intent, for its request to be on the wire.
SEND_HOLD = 2.0
# Calls on the way from a free slot to the next task's start: they go ahead of the others
# queued for the connections (waiters' reads, claims, downloads' records).
URGENT = frozenset({"record_intent", "acquire_slot", "release_slot"})


class Bell:
    """Rung (from any thread) when what a waiter waits for may have been released."""

    def __init__(self, loop: asyncio.AbstractEventLoop, poll: float) -> None:
        self._loop = loop
        self._event = asyncio.Event()
        self.poll = poll  # seconds between safety checks: a ring may never come

    def ring(self) -> None:
        """Wake the waiter (safe from any thread)."""
        self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self) -> None:
        """Until the next ring."""
        await self._event.wait()
        self._event.clear()


class _Awaited(Generic[P, T]):
    """A ``Store`` method as a coroutine of ``AsyncStore``: the same name and arguments, run
    by whichever worker thread is free, on that thread's connection."""

    def __init__(self, method: Callable[Concatenate[Store, P], T]) -> None:
        self._name = method.__name__
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, face: None, owner: type[AsyncStore]) -> Self: ...

    @overload
    def __get__(
        self, face: AsyncStore, owner: type[AsyncStore]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(
        self, face: AsyncStore | None, owner: type[AsyncStore]
    ) -> Self | Callable[P, Coroutine[Any, Any, T]]:
        if face is None:
            return self
        name = self._name

        async def call(*args: P.args, **kwargs: P.kwargs) -> T:
            def on(store: Store) -> T:
                method: Callable[P, T] = getattr(store, name)
                return method(*args, **kwargs)

            return await face._do(on, urgent=name in URGENT)

        return call


class AsyncStore:
    """Every ``Store`` method as a coroutine, run on the store's worker threads.

    One thread per connection: the store's own, plus ``connections - 1`` more (``clone``) on
    PostgreSQL, where a runner far from the database overlaps its round trips; SQLite has one
    writer at a time, so one thread. ``inline`` runs each call in the event loop's thread
    instead: for runs on a virtual clock (tests), where time must pass only when the engine
    sleeps, never while a thread works.
    """

    def __init__(self, store: Store, *, inline: bool = False) -> None:
        self.sync = store
        self.inline = inline
        self._pool: Lanes | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clones: list[Store] = []
        self._first_taken = False

    def _executor(self) -> Lanes:
        if self._pool is None:
            self._first_taken = False
            self._pool = Lanes(max(1, self.sync.connections), self._bind, "mjv-state")
        return self._pool

    def _bind(self) -> None:
        """Give a new worker thread its connection: the store's own first, then clones."""
        with self._lock:
            first, self._first_taken = not self._first_taken, True
        store = self.sync if first else self.sync.clone()
        if not first:
            with self._lock:
                self._clones.append(store)
        self._local.store = store

    def _mine(self) -> Store:
        """The store of the calling worker thread (the original one elsewhere)."""
        store: Store = getattr(self._local, "store", self.sync)
        return store

    async def _do(self, fn: Callable[[Store], T], *, urgent: bool = False) -> T:
        """Run ``fn`` with the store of whichever worker thread takes it."""
        if self.inline:
            return fn(self.sync)
        call = self._executor().submit(lambda: fn(self._mine()), urgent=urgent)
        return await asyncio.wrap_future(call)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` (anything that uses ``sync``) on a worker thread; its result."""
        if self.inline:
            return fn(*args, **kwargs)
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.wrap_future(self._executor().submit(call))

    def post(self, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> Future[object]:
        """Queue ``fn`` on a worker thread without waiting for it."""
        if not self.inline:
            urgent = getattr(fn, "__name__", "") in URGENT
            return self._executor().submit(functools.partial(fn, *args, **kwargs), urgent=urgent)
        done: Future[object] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:  # handed to the caller's callbacks, as the thread would
            done.set_exception(exc)
        return done

    def shutdown(self) -> None:
        """Stop the worker threads once their queue is done and close the extra connections
        (a later call starts again)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
        with self._lock:
            clones, self._clones = self._clones, []
        for clone in clones:
            clone.close()

    @contextmanager
    def bell(self, *channels: str) -> Iterator[Bell]:
        """A bell rung on each release on any of ``channels`` (``slots:<account>``,
        ``lease:<key>``, ``succeeded:<key>``)."""
        bell = Bell(asyncio.get_running_loop(), self.sync.wake_poll)
        with ExitStack() as listening:
            for channel in channels:
                listening.enter_context(self.sync.listening(channel, bell.ring))
            yield bell

    def check_file(self) -> None:
        """StateError when the state file was removed or replaced (a stat: no round trip)."""
        self.sync.check_file()

    # The Store's methods, awaited: same names, same arguments, same documentation.

    declare = _Awaited(Store.declare)
    get = _Awaited(Store.get)
    submissions = _Awaited(Store.submissions)
    claim = _Awaited(Store.claim)
    renew_leases = _Awaited(Store.renew_leases)
    release = _Awaited(Store.release)
    release_all = _Awaited(Store.release_all)
    acquire_slot = _Awaited(Store.acquire_slot)
    slot_holders = _Awaited(Store.slot_holders)
    release_slot = _Awaited(Store.release_slot)
    reserve = _Awaited(Store.reserve)
    unreserve = _Awaited(Store.unreserve)
    record_task = _Awaited(Store.record_task)
    record_followup = _Awaited(Store.record_followup)
    record_rejected = _Awaited(Store.record_rejected)
    record_running = _Awaited(Store.record_running)
    record_success = _Awaited(Store.record_success)
    record_failure = _Awaited(Store.record_failure)
    record_files = _Awaited(Store.record_files)
    files = _Awaited(Store.files)
    all_files = _Awaited(Store.all_files)
    file_versions = _Awaited(Store.file_versions)
    reset = _Awaited(Store.reset)
    adopt = _Awaited(Store.adopt)
    attempts = _Awaited(Store.attempts)
    upload_url = _Awaited(Store.upload_url)
    upload = _Awaited(Store.upload)
    record_upload = _Awaited(Store.record_upload)
    forget_upload = _Awaited(Store.forget_upload)
    money = _Awaited(Store.money)
    totals = _Awaited(Store.totals)

    async def record_intent(
        self,
        key: str,
        owner: str,
        reserved: float,
        *,
        sent_key: str | None = None,
        sent: threading.Event | None = None,
    ) -> int:
        """``Store.record_intent``; given ``sent``, its connection records nothing else until
        ``sent`` is set (the whole request is written) or ``SEND_HOLD`` passed: with one
        connection (SQLite), a crash never finds an intent whose request did not leave."""
        if self.inline or sent is None:
            return await self._do(
                lambda s: s.record_intent(key, owner, reserved, sent_key=sent_key)
            )
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[int] = loop.create_future()

        def intent() -> None:
            try:
                got = self._mine().record_intent(key, owner, reserved, sent_key=sent_key)
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, answer, None, exc)
                return
            loop.call_soon_threadsafe(_settle, answer, got, None)
            sent.wait(SEND_HOLD)

        # Ahead of the calls queued for the connections: a slot waits for this request.
        self._executor().submit(intent, urgent=True)
        return await answer


def _settle(answer: asyncio.Future[int], got: int | None, exc: BaseException | None) -> None:
    """Hand the intent's outcome to its (maybe cancelled) awaiter."""
    if answer.done():
        return
    if exc is not None:
        answer.set_exception(exc)
    elif got is not None:
        answer.set_result(got)
