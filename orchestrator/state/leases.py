"""Lease owners: who holds a submission, and whether that holder is a dead local process."""

from __future__ import annotations

import os
import secrets
import socket


def make_owner() -> str:
    """Return a fresh owner id of this process: ``"<hostname>:<pid>:<nonce>"``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process of this host that no longer exists.

    Owners on other hosts (or in an unknown format) are never declared dead: only their lease
    expiry frees what they hold.
    """
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
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
