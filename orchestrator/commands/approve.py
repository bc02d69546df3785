"""`mjv approve|reject|unreview SPEC CLIP...`: verdicts from the terminal, into the review file."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from orchestrator.commands.simulated import state_choice
from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.model import Campaign
from orchestrator.review.current import Clip, count_verdicts, load_reviewed, manifest_clips
from orchestrator.review.names import clip_step
from orchestrator.review.reviewfile import APPROVED, Review, review_path, update_review
from orchestrator.review.verdicts import (
    ApprovalRefusedError,
    Change,
    apply_change,
    match_clips,
    may_approve,
    unreview,
)
from orchestrator.review.who import reviewer, timestamp
from orchestrator.spec import load_campaign

PAST = {"approve": "approved", "reject": "rejected", "unreview": "unreviewed"}


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Set the verdict ``args.verb`` on every clip ``args.clips`` names."""
    campaign, clips = campaign_clips(args)
    chosen = match_clips(args.clips, clips)
    if args.verb == "approve":
        _check_approvals(chosen, getattr(args, "force", False))
    path = review_path(campaign.spec_path)
    by, at = reviewer(getattr(args, "by", None)), timestamp()
    review = update_review(path, lambda r: _edit(r, args, chosen, by, at), campaign.spec_path.name)
    out.writelines(f"{PAST[args.verb]} {clip.path}\n" for clip in chosen)
    out.write(f"{path}: {count_verdicts(review, iter(clips)).text()}\n")
    return EXIT_OK


def campaign_clips(args: argparse.Namespace) -> tuple[Campaign, list[Clip]]:
    """The campaign of ``args.spec`` (simulated with --simulate) and its current clips."""
    campaign = load_campaign(Path(args.spec))
    campaign, location, default = state_choice(campaign, args.state, args.simulate)
    campaign, manifest = load_reviewed(campaign, location, default)
    clips = list(manifest_clips(manifest))
    if not clips:
        raise UsageError(f"campaign {campaign.name} has no downloaded clips to review yet")
    return campaign, clips


def _check_approvals(chosen: Sequence[Clip], force: bool) -> None:
    steps: dict[tuple[str, int], str] = {}
    for clip in chosen:
        why = may_approve(clip, force)
        if why is not None:
            raise ApprovalRefusedError(f"{clip.path}: {why}")
        folder, step, _ = clip_step(clip.path)
        other = steps.setdefault((folder, step), clip.path)
        if other != clip.path:
            raise UsageError(f"{other} and {clip.path}: one approved clip per step")


def _edit(
    review: Review, args: argparse.Namespace, chosen: Sequence[Clip], by: str, at: str
) -> Review:
    if args.verb == "unreview":
        return unreview(review, [clip.path for clip in chosen])
    verdict = APPROVED if args.verb == "approve" else "rejected"
    change = Change(verdict, getattr(args, "stars", None), getattr(args, "note", None))
    for clip in chosen:
        review = apply_change(review, clip, change, by, at)
    return review
