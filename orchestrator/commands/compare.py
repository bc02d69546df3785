"""`mjv plan SPEC --provider NAME`: the same campaign priced on another provider.

Every job is priced from scratch (what the whole campaign costs, not what is left to do), as
the spec asks for it and as NAME would make it; the jobs NAME cannot make are listed with why
and left out of both totals, so the two figures buy the same clips.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TextIO

from orchestrator.errors import EXIT_ERROR, EXIT_OK
from orchestrator.graph import pending_counts
from orchestrator.model import Campaign, Job
from orchestrator.providers.capabilities import job_refusals
from orchestrator.providers.pricing import PUBLISHED


@dataclass(frozen=True)
class Price:
    """The cost of a set of jobs: known part, and submissions without a price by key."""

    known: float
    unpriced: dict[str, int]

    def text(self) -> str:
        """``12.34``, or ``unknown (no price for ...)``."""
        if not self.unpriced:
            return f"{self.known:.2f}"
        missing = ", ".join(f"{n} {key}" for key, n in sorted(self.unpriced.items()))
        return f"unknown (no price for {missing} submissions; known part {self.known:.2f})"


@dataclass(frozen=True)
class Comparison:
    """One campaign priced as specified and on ``provider``."""

    provider: str
    jobs: int
    clips: int  # clips the comparable jobs yield (batch sizes added up)
    here: Price
    there: Price
    here_label: str
    refused: dict[str, list[str]]  # job name -> reasons
    overridden: bool = False  # the spec's pricing changes the provider's published prices


def compare(campaign: Campaign, provider: str) -> Comparison:
    """Price ``campaign`` as specified and on ``provider`` (pure)."""
    refused: dict[str, list[str]] = {}
    kept: list[Job] = []
    for job in campaign.jobs:
        reasons = [r.message for r in job_refusals(job, provider)]
        if reasons:
            refused[job.name] = reasons
        else:
            kept.append(job)
    moved = [replace(job, provider=provider) for job in kept]
    names = sorted({job.provider for job in campaign.jobs})
    return Comparison(
        provider=provider,
        jobs=len(kept),
        clips=sum(job.settings.batch_size for job in kept),
        here=price_jobs(campaign, kept),
        there=price_jobs(campaign, moved),
        here_label=names[0] if len(names) == 1 else "as specified (" + ", ".join(names) + ")",
        refused=refused,
        overridden=dict(campaign.prices_of(provider)) != dict(_published(provider)),
    )


def _published(provider: str) -> dict[str, float]:
    sheet = PUBLISHED.get(provider)
    return dict(sheet.prices) if sheet else {}


def price_jobs(campaign: Campaign, jobs: Sequence[Job]) -> Price:
    """What ``jobs`` cost from scratch, each shared submission once."""
    known, unpriced = 0.0, dict[str, int]()
    for (_kind, key), count in pending_counts(jobs, ()).items():
        price = campaign.price_by_key(key)
        if price is None:
            unpriced[key] = unpriced.get(key, 0) + count
        else:
            known += price * count
    return Price(round(known, 6), unpriced)


def write_comparison(result: Comparison, out: TextIO, fmt: str = "text") -> int:
    """Print the comparison; exit 0 when ``provider`` can make every job, 1 otherwise."""
    if fmt == "json":
        json.dump(_as_json(result), out, indent=2, sort_keys=True)
        out.write("\n")
    else:
        _write_text(result, out)
    return EXIT_ERROR if result.refused else EXIT_OK


def _write_text(result: Comparison, out: TextIO) -> None:
    name = result.provider
    out.write(
        f"the same {result.clips} clips ({result.jobs} jobs): {result.here.text()} on "
        f"{result.here_label}, {result.there.text()} on {name}\n"
    )
    sheet = PUBLISHED.get(name)
    if sheet is not None:
        spec = "the spec's pricing over those " if result.overridden else ""
        out.write(f"{name} prices: {spec}published {sheet.read}, {sheet.unit} ({sheet.source})\n")
    if result.refused:
        out.write(f"{name} cannot make {len(result.refused)} job(s), left out of both figures:\n")
        for job, reasons in result.refused.items():
            out.write(f"  {job}: {'; '.join(reasons)}\n")


def _as_json(result: Comparison) -> dict[str, Any]:
    def price(p: Price) -> dict[str, Any]:
        return {"cost": None if p.unpriced else p.known, "known": p.known, "unpriced": p.unpriced}

    return {
        "provider": result.provider,
        "jobs": result.jobs,
        "clips": result.clips,
        "as_specified": {"providers": result.here_label, **price(result.here)},
        "on_provider": price(result.there),
        "refused": result.refused,
        "spec_prices": result.overridden,
    }
