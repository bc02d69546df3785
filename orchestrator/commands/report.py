"""`mjv report`: write report.html beside the campaign's manifest and print its path."""

from __future__ import annotations

import argparse
import webbrowser
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.report import load_manifest, write_report
from orchestrator.spec import load_campaign
from orchestrator.state import default_state_path


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the report of ``args.spec`` (simulated output with --simulate), maybe open it."""
    campaign = load_campaign(Path(args.spec))
    if args.simulate:  # the folder and state file `mjv run --simulate` uses
        simulated = campaign.output_dir.name + "-simulated"
        campaign = replace(campaign, output_dir=campaign.output_dir.with_name(simulated))
    state = default_state_path(campaign.spec_path, args.simulate)
    if args.state:
        state = Path(args.state)
        if not state.is_file():  # a typo must not silently show the committed manifest
            raise UsageError(f"{state}: no such state file")
    path = write_report(campaign, load_manifest(campaign, state))
    out.write(f"report: {path}\n")
    if args.open:
        webbrowser.open(path.resolve().as_uri())
    return EXIT_OK
