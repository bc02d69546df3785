"""What each provider did for a campaign, from the state: submissions, failures and money.

A producer comparing resellers reads it in `mjv status`. A submission's provider is the one
its task id names (see providers.router), else its job's, else CometAPI (sources).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orchestrator.model import Campaign
from orchestrator.providers import DEFAULT_PROVIDER
from orchestrator.providers.router import split_id
from orchestrator.state import Money, Submission


@dataclass(frozen=True)
class ProviderUsage:
    """One provider's share of a campaign."""

    provider: str
    submissions: int
    failed: int
    spent: float
    refunded: float
    possibly_charged: float


def provider_usage(
    campaign: Campaign, subs: Iterable[Submission], money: Mapping[str, Money]
) -> list[ProviderUsage]:
    """Usage per provider, CometAPI first, then by name."""
    jobs = {job.name: job.provider for job in campaign.jobs}
    rows: dict[str, list[float]] = {}
    for sub in subs:
        if not sub.attempt:
            continue
        name = provider_of(sub, jobs)
        row = rows.setdefault(name, [0, 0, 0.0, 0.0, 0.0])
        cost = money.get(sub.key)
        row[0] += 1
        row[1] += sub.status == "failed"
        if cost is not None:
            row[2] += cost.spent
            row[3] += cost.refunded
            row[4] += cost.reserved
    order = sorted(rows, key=lambda n: (n != DEFAULT_PROVIDER, n))
    return [
        ProviderUsage(n, int(r[0]), int(r[1]), round(r[2], 6), round(r[3], 6), round(r[4], 6))
        for n, r in ((n, rows[n]) for n in order)
    ]


def provider_of(sub: Submission, jobs: Mapping[str, str]) -> str:
    """The provider a submission went to."""
    if sub.task_id:
        return split_id(sub.task_id)[0]
    if sub.kind in ("video", "extend"):
        return jobs.get(sub.job, DEFAULT_PROVIDER)
    return DEFAULT_PROVIDER
