"""The store's worker threads: one connection each, urgent calls served before the others.

A runner's store calls queue for its few connections: waiters reading the state, claims,
downloads' records. The intent before a paid request is on the path between a slot coming
free and the next task starting, so it goes ahead of every queued call (it still waits for a
thread to finish the call it is running). Calls of one priority keep their order.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_URGENT, _NORMAL, _STOP = 0, 1, 2  # a stop comes after every queued call
# An idle thread looks this often whether the interpreter is ending without a shutdown
# (then it stops once the queue is empty, as ``ThreadPoolExecutor``'s threads do).
_IDLE_CHECK = 0.5


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
            thread = threading.Thread(target=self._work, name=f"{self._name}_{len(self._threads)}")
            self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        failed: BaseException | None = None
        try:
            self._initializer()
        except BaseException as exc:  # every call this thread takes fails with it
            failed = exc
        while (item := self._next()) is not None:
            future, fn = item
            if future.set_running_or_notify_cancel():
                _settle(future, fn, failed)
            self._idle.release()

    def _next(self) -> Any:
        """The next call to run, or None when this thread is to stop."""
        while True:
            try:
                return self._queue.get(timeout=_IDLE_CHECK)[2]
            except queue.Empty:
                if not threading.main_thread().is_alive():
                    return None


def _settle(future: Future[Any], fn: Callable[[], Any], failed: BaseException | None) -> None:
    if failed is not None:
        future.set_exception(failed)
        return
    try:
        future.set_result(fn())
    except BaseException as exc:
        future.set_exception(exc)
