"""`mjv retry`: give failed jobs a new attempt (retryable ones; final ones with a flag)."""

from __future__ import annotations

import argparse
from typing import TextIO

from orchestrator.commands.run import execute


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Retry the failed jobs of ``args.spec`` and return the exit code."""
    return execute(args, out, err, retry=True)
