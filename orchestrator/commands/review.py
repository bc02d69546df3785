"""`mjv review SPEC`: serve the report with review controls on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from orchestrator.commands.simulated import state_choice
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.model import Campaign
from orchestrator.results import Manifest
from orchestrator.review.current import load_reviewed
from orchestrator.review.reviewfile import load_review, review_path
from orchestrator.review.server import ReviewServer, new_token
from orchestrator.review.site import Site
from orchestrator.review.who import reviewer
from orchestrator.spec import load_campaign
from orchestrator.state import state_found


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve the review of ``args.spec``; its URL is the first line of ``out``."""
    campaign = load_campaign(Path(args.spec))
    campaign, location, default = state_choice(campaign, args.state, args.simulate)
    if args.state and not state_found(args.state, default_path=default):
        raise UsageError(f"{args.state}: no such state file")
    path = review_path(campaign.spec_path)
    load_review(path)  # a broken review file: its problems now, not in the browser
    manifests = _manifests(campaign, location, default)
    site = Site(campaign, manifests, path, reviewer(args.by), new_token())
    try:
        server = ReviewServer(site, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
    out.write(server.url + "\n")
    out.flush()
    err.write(f"reviewing {campaign.name}: verdicts are written to {path}; Ctrl-C stops\n")
    err.flush()
    if not args.no_open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err.write("review stopped\n")
    finally:
        server.stop()
    return EXIT_OK


def _manifests(
    campaign: Campaign, location: str | None, default: Path
) -> Callable[[], tuple[Campaign, Manifest | None]]:
    """What each page load reads: the manifest as it is now (a run may have finished)."""

    def current() -> tuple[Campaign, Manifest | None]:
        return load_reviewed(campaign, location, default)

    return current
