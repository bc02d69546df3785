"""`mjv report`: write report.html beside the campaign's manifest and print its path."""

from __future__ import annotations

import argparse
import webbrowser
from pathlib import Path
from typing import TextIO

from orchestrator.commands.simulated import simulated
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.report import write_report
from orchestrator.review.current import load_reviewed
from orchestrator.spec import load_campaign
from orchestrator.state import default_state_path, state_found


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the report of ``args.spec`` (simulated output with --simulate), maybe open it."""
    campaign = load_campaign(Path(args.spec))
    if args.simulate:  # the folder and state file `mjv run --simulate` uses
        campaign = simulated(campaign)
    default = default_state_path(campaign.spec_path, args.simulate)
    location: str | None = args.state or (str(default) if args.simulate else None)
    if args.state and not state_found(args.state, default_path=default):
        # A typo must not silently show the committed manifest instead.
        raise UsageError(f"{args.state}: no such state file")
    campaign, manifest = load_reviewed(campaign, location, default)  # approved steps shown
    path = write_report(campaign, manifest)
    out.write(f"report: {path}\n")
    if args.open:
        webbrowser.open(path.resolve().as_uri())
    return EXIT_OK
