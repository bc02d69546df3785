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
from orchestrator.state import Money, Status, Submission


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
    rows: dict[str, ProviderUsage] = {}
    for sub in subs:
        if not sub.attempt:
            continue
        name = provider_of(sub, jobs)
        row = rows.get(name) or ProviderUsage(name, 0, 0, 0.0, 0.0, 0.0)
        cost = money.get(sub.key) or Money(0.0, 0.0, 0.0)
        rows[name] = ProviderUsage(
            name,
            row.submissions + 1,
            row.failed + (sub.status == Status.FAILED),
            round(row.spent + cost.spent, 6),
            round(row.refunded + cost.refunded, 6),
            round(row.possibly_charged + cost.reserved, 6),
        )
    return [rows[n] for n in sorted(rows, key=lambda n: (n != DEFAULT_PROVIDER, n))]


def provider_of(sub: Submission, jobs: Mapping[str, str]) -> str:
    """The provider a submission went to."""
    if sub.task_id:
        return split_id(sub.task_id)[0]
    if sub.kind in ("video", "extend"):
        return jobs.get(sub.job, DEFAULT_PROVIDER)
    return DEFAULT_PROVIDER
