"""Wake-ups inside this process: whoever waits for a release on a state hears of it at once.

A channel is named by the state (``topic``: one SQLite file or one PostgreSQL schema) and what
was released (``slots:<account>``, ``lease:<key>``, ``succeeded:<key>``). The SQLite store
rings after its commit; PostgreSQL's NOTIFY reaches other machines, and its listener rings here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_bells: dict[tuple[str, str], set[Callable[[], None]]] = {}


def ring(topic: str, channel: str) -> None:
    """Call everyone listening on ``channel`` of ``topic`` (from any thread)."""
    with _lock:
        callbacks = list(_bells.get((topic, channel), ()))
    for callback in callbacks:
        callback()


def ring_all(topic: str) -> None:
    """Call everyone listening on any channel of ``topic`` (news may have been missed)."""
    with _lock:
        callbacks = [cb for (found, _), cbs in _bells.items() if found == topic for cb in cbs]
    for callback in callbacks:
        callback()


@contextmanager
def listening(topic: str, channel: str, callback: Callable[[], None]) -> Iterator[None]:
    """Have ``callback`` called on each ring of ``channel`` while inside."""
    with _lock:
        _bells.setdefault((topic, channel), set()).add(callback)
    try:
        yield
    finally:
        with _lock:
            found = _bells.get((topic, channel), set())
            found.discard(callback)
            if not found:
                _bells.pop((topic, channel), None)
