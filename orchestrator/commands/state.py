"""`mjv state copy FROM TO`: move campaigns' state between SQLite files and PostgreSQL."""

from __future__ import annotations

import argparse
from typing import TextIO

from orchestrator.errors import EXIT_OK
from orchestrator.state.location import redact
from orchestrator.state.transfer import copy_state


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Copy the campaign(s) of ``args.source`` to ``args.target``; print what went over."""
    copied = copy_state(args.source, args.target, args.campaign)
    target = redact(args.target) if "://" in args.target else args.target
    for done in copied:
        out.write(
            f"copied campaign {done.campaign} to {target}: {done.submissions} submissions, "
            f"{done.attempts} attempts, {done.files} files\n"
        )
    if not copied:
        out.write("nothing to copy: the source holds no campaign\n")
    return EXIT_OK
