"""Lease owners: who holds a submission, whether that holder is dead, and fenced writes."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterable

from orchestrator.errors import LeaseLostError

RUNNER_ENV = "MJV_RUNNER_NAME"


def runner_host() -> str:
    """The machine's name in lease owners: $MJV_RUNNER_NAME, else the host name.

    Runners in containers that share a host name must set distinct names: a lease held by a
    process of "this host" that no longer exists is taken at once.
    """
    return os.environ.get(RUNNER_ENV, "").strip().replace(":", "_") or socket.gethostname()


def make_owner() -> str:
    """Return a fresh owner id of this process: ``"<runner host>:<pid>:<nonce>"``."""
    return f"{runner_host()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process of this host that no longer exists.

    Owners on other hosts (or in an unknown format) are never declared dead: only their lease
    expiry frees what they hold.
    """
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != runner_host() or not parts[1].isdigit():
        return False
    return not _pid_alive(int(parts[1]))


def _pid_alive(pid: int) -> bool:
    """Signal 0 probes a pid without touching it; EPERM means it exists under another user."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def check_fence(key: str, holder: str | None, owner: str | None) -> None:
    """Refuse a fenced write (``owner`` given) unless ``owner`` holds the lease on ``key``."""
    if owner is not None and holder != owner:
        raise LeaseLostError(
            f"{key}: the lease is held by {holder or 'nobody'}, not {owner}; "
            "this runner lost it and must not record results for it"
        )


class LeaseBook:
    """The keys each owner claimed through one store, so a renewal can tell which were lost."""

    def __init__(self) -> None:
        self._held: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def took(self, owner: str, key: str) -> None:
        """``owner`` claimed ``key``."""
        with self._lock:
            self._held.setdefault(owner, set()).add(key)

    def dropped(self, owner: str, key: str | None = None) -> None:
        """``owner`` released ``key`` (every key when None)."""
        with self._lock:
            if key is None:
                self._held.pop(owner, None)
            else:
                self._held.get(owner, set()).discard(key)

    def lost(self, owner: str, still_held: Iterable[str]) -> frozenset[str]:
        """Forget and return the keys ``owner`` claimed but no longer holds."""
        with self._lock:
            held = self._held.get(owner, set())
            gone = frozenset(held.difference(still_held))
            held.difference_update(gone)
            return gone
