"""The plan's worst case of retakes: every retake a job may make, made (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.model import Campaign, Job


@dataclass(frozen=True)
class RetakeWorstCase:
    """What retakes could add to a plan at most."""

    retakes: int  # new takes at most, over every job
    submissions: int  # their video submissions (base clips and extension steps)
    cost: float | None  # None when a price is unknown
    known_cost: float  # the part with known prices


def worst_case(campaign: Campaign, jobs: Iterable[Job]) -> RetakeWorstCase:
    """The retakes ``jobs`` may make if every clip fails its checks."""
    retakes = submissions = 0
    known, unknown = 0.0, False
    for job in jobs:
        limit = job.qc.retake_limit
        if not limit:
            continue
        mode, steps = job.settings.mode, len(job.extensions)
        retakes += limit
        submissions += limit * (1 + steps)
        base, ext = campaign.price_of("video", mode), campaign.price_of("extend", mode)
        unknown |= base is None or (steps > 0 and ext is None)
        known += limit * ((base or 0.0) + steps * (ext or 0.0))
    known = round(known, 6)
    return RetakeWorstCase(retakes, submissions, None if unknown else known, known)


def worst_case_text(worst: RetakeWorstCase, left: float | None) -> str:
    """The plan's line about it (empty without retakes)."""
    if not worst.retakes:
        return ""
    cost = (
        f"{worst.cost:.2f}" if worst.cost is not None else f"unknown (known {worst.known_cost:.2f})"
    )
    text = (
        f"up to {worst.retakes} retakes: up to {cost} more ({worst.submissions} video submissions)"
    )
    if left is not None and worst.known_cost > left + 1e-9:
        text += f"; past the budget by {worst.known_cost - left:.2f}: retakes stop at the cap"
    return text + "\n"
