"""The store's worker threads: one connection each, urgent calls served before the others.

A runner's store calls queue for its few connections: waiters reading the state, claims,
downloads' records. The intent before a paid request is on the path between a slot coming
free and the next task starting, so it goes ahead of every queued call (it still waits for a
thread to finish the call it is running). Calls of one priority keep their order.
"""

from __future__ import annotations

import atexit
import itertools
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_URGENT, _NORMAL, _STOP = 0, 1, 2  # a stop comes after every queued call
# Pools with threads: at the interpreter's exit each runs what is queued, then stops (as
# ``ThreadPoolExecutor`` does; its threads are daemons so that an idle one never holds it up).
_LIVE: weakref.WeakSet[Lanes] = weakref.WeakSet()


class Lanes:
    """Up to ``workers`` threads (started as calls need them), each set up by ``initializer``."""

    def __init__(self, workers: int, initializer: Callable[[], None], name: str) -> None:
        self._workers = max(1, workers)
        self._initializer = initializer
        self._name = name
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T], *, urgent: bool = False) -> Future[T]:
        """Queue ``fn``; its future. ``urgent`` goes ahead of every call not yet started."""
        future: Future[T] = Future()
        self._queue.put((_URGENT if urgent else _NORMAL, next(self._order), (future, fn)))
        self._start_thread()
        return future

    def shutdown(self) -> None:
        """Run what is queued, then stop every thread and wait for them."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put((_STOP, next(self._order), None))
        for thread in threads:
            thread.join()

    def _start_thread(self) -> None:
        if self._idle.acquire(blocking=False):  # a thread is waiting for work: it takes this
            return
        with self._lock:
            if len(self._threads) >= self._workers:
                return
            name = f"{self._name}_{len(self._threads)}"
            thread = threading.Thread(target=self._work, name=name, daemon=True)
            self._threads.append(thread)
            _LIVE.add(self)
        thread.start()

    def _work(self) -> None:
        failed: BaseException | None = None
        try:
            self._initializer()
        except BaseException as exc:  # every call this thread takes fails with it
            failed = exc
        while (item := self._queue.get()[2]) is not None:
            future, fn = item
            if future.set_running_or_notify_cancel():
                _settle(future, fn, failed)
            self._idle.release()


def _settle(future: Future[Any], fn: Callable[[], Any], failed: BaseException | None) -> None:
    if failed is not None:
        future.set_exception(failed)
        return
    try:
        future.set_result(fn())
    except BaseException as exc:
        future.set_exception(exc)


@atexit.register
def _stop_all() -> None:
    for lanes in list(_LIVE):
        lanes.shutdown()
