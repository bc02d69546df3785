"""`mjv qc`: check the clips already downloaded (scores, verdicts, pictures) and say which fail."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from orchestrator.commands.simulated import state_choice
from orchestrator.engine.manifest import save_manifest
from orchestrator.engine.runner import select_jobs, unmatched
from orchestrator.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from orchestrator.qc.campaign import CheckedClip, check_campaign
from orchestrator.spec import load_campaign
from orchestrator.state import open_state, state_found

SHOWN = ("motion", "frozen", "black", "flicker", "start_similarity", "end_similarity", "continuity")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check the clips of the campaign of ``args.spec``; exit 1 when any fails."""
    campaign, location, default = state_choice(
        load_campaign(Path(args.spec)), args.state, args.simulate
    )
    if args.select and (missing := unmatched(campaign, args.select)):
        err.write(f"mjv qc: --select {missing[0]!r} matches no job of {args.spec}\n")
        return EXIT_USAGE
    if not state_found(location, default_path=default):
        out.write(f"campaign {campaign.name}: nothing downloaded yet, nothing to check\n")
        return EXIT_OK
    with open_state(location, campaign.name, default_path=default) as store:
        jobs = select_jobs(campaign, args.select)
        checked = check_campaign(campaign, store, jobs, lambda text: _warn(err, text))
        failure = save_manifest(campaign, store)
    out.writelines(_line(clip) for clip in checked)
    failed = sum(not clip.result.passed for clip in checked)
    out.write(f"{len(checked)} clip(s) checked: {len(checked) - failed} passed, {failed} failed\n")
    if failure is not None:
        err.write(f"mjv qc: {failure}\n")
        return EXIT_ERROR
    return EXIT_ERROR if failed else EXIT_OK


def _warn(err: TextIO, text: str) -> None:
    err.write(f"mjv qc: warning: {text}\n")


def _line(clip: CheckedClip) -> str:
    result = clip.result
    scores = " ".join(f"{k}={result.scores[k]}" for k in SHOWN if k in result.scores)
    verdict = "passed" if result.passed else "FAILED: " + "; ".join(result.reasons)
    return f"{clip.path}: {verdict}  {scores}\n"
