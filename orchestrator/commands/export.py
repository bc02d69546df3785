"""`mjv export SPEC DIR`: copy the approved final clips into DIR, with export.json and .csv."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from orchestrator.commands.simulated import state_choice
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.export import choose, export
from orchestrator.review.current import campaign_review, load_reviewed
from orchestrator.spec import load_campaign
from orchestrator.state import state_found


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Export the deliverables of ``args.spec`` into ``args.dir``."""
    campaign = load_campaign(Path(args.spec))
    campaign, location, default = state_choice(campaign, args.state, args.simulate)
    if args.state and not state_found(args.state, default_path=default):
        raise UsageError(f"{args.state}: no such state file")
    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    campaign, manifest = load_reviewed(campaign, location, default)
    chosen, left_out = choose(campaign, manifest, campaign_review(campaign), args.all)
    done = export(chosen, folder)
    out.writelines(f"copied {name}\n" for name in done.copied)
    out.writelines(f"  left out {job}: {why}\n" for job, why in left_out)
    listing = "written" if done.listing_written else "unchanged"
    out.write(
        f"{folder}: {len(done.copied)} copied, {len(done.unchanged)} already there, "
        f"{len(left_out)} jobs left out; export.json and export.csv {listing}\n"
    )
    return EXIT_OK
