"""Who gives a verdict, and when: --by, else $MJV_REVIEWER, else git's user.name, else $USER."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping


def reviewer(override: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The name recorded with a verdict."""
    env = os.environ if env is None else env
    if override:
        return override
    for name in (env.get("MJV_REVIEWER"), _git_user(), env.get("USER"), env.get("LOGNAME")):
        if name and name.strip():
            return name.strip()
    return "unknown"


def _git_user() -> str | None:
    try:
        done = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def timestamp(now: float | None = None) -> str:
    """UTC time in ISO 8601, to the second: ``2026-12-01T21:58:26Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
