"""Asking before a run pays again: on a terminal a question, elsewhere a refusal without --yes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from orchestrator.engine.repay import Repayment
from orchestrator.errors import UsageError
from orchestrator.money import shown


class NotConfirmedError(UsageError):
    """A run that would pay again was not confirmed: nothing was sent."""


def describe(items: Sequence[Repayment], currency: str) -> str:
    """``--force sends 2 submissions again (1.20 USD)``, one clause per reason."""
    return "; ".join(
        f"{item.why} sends {item.submissions} submission(s) again ({shown(item.cost, currency)})"
        for item in items
    )


def confirm(
    items: Sequence[Repayment],
    currency: str,
    args: argparse.Namespace,
    err: TextIO,
    stdin: TextIO | None = None,
) -> None:
    """Return when the run may pay again; raise NotConfirmedError when it may not.

    --yes (or a simulated run, where nothing real is paid) goes ahead saying what it pays. On a
    terminal the question waits for y/N; off a terminal (CI, a pipe) nobody can answer, so the
    run refuses at once rather than hang or pay unasked.
    """
    if not items:
        return
    what = describe(items, currency)
    if args.yes or args.simulate:
        err.write(f"mjv: {what}\n")
        return
    stdin = stdin or sys.stdin
    if not (_tty(stdin) and _tty(err)):
        raise NotConfirmedError(f"{what}: pass --yes to confirm (nothing was sent)")
    err.write(f"mjv: {what}. Send? [y/N] ")
    err.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise NotConfirmedError("not confirmed: nothing was sent")


def _tty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and bool(stream.isatty())
    except (OSError, ValueError):
        return False
