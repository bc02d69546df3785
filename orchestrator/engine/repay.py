"""What a run would pay for again: jobs forced with --force, final failures retried."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.engine.context import RunConfig
from orchestrator.engine.runner import select_jobs
from orchestrator.model import Campaign, Job
from orchestrator.state import Status, Store


@dataclass(frozen=True)
class Repayment:
    """Submissions a run would send again though they were sent before, and their price."""

    why: str  # "--force" or "--include-final"
    submissions: int
    cost: float | None  # None when a price is unknown


def repayments(campaign: Campaign, store: Store, config: RunConfig) -> list[Repayment]:
    """Each reason the run would pay again, with what it would cost (empty: nothing)."""
    selected = {job.name: job for job in select_jobs(campaign, config.select)}
    found = []
    if config.force:
        forced = [job for job in select_jobs(campaign, config.force) if job.name in selected]
        found.append(_priced("--force", campaign, _forced(forced, store)))
    if config.retry_failed and config.include_final:
        found.append(_priced("--include-final", campaign, _final(selected, store)))
    return [item for item in found if item.submissions]


def _steps(job: Job) -> list[tuple[str, str]]:
    return [(job.fingerprint, "video"), *((ext.fingerprint, "extend") for ext in job.extensions)]


def _forced(jobs: list[Job], store: Store) -> list[tuple[Job, str]]:
    """Clip submissions of the forced jobs that were sent before (as the run's _force sees)."""
    sent = []
    for job in jobs:
        for key, kind in _steps(job):
            sub = store.get(key)
            if sub is not None and (sub.attempt or sub.status != Status.PENDING):
                sent.append((job, kind))
    return sent


def _final(jobs: dict[str, Job], store: Store) -> list[tuple[Job, str]]:
    """Submissions of the selected jobs that failed for good."""
    return [
        (jobs[sub.job], sub.kind)
        for sub in store.submissions()
        if sub.status == Status.FAILED
        and sub.failure == "final"
        and sub.job in jobs
        and sub.kind in ("video", "extend")
    ]


def _priced(why: str, campaign: Campaign, items: list[tuple[Job, str]]) -> Repayment:
    prices = [campaign.price_of(kind, job.settings.mode) for job, kind in items]
    cost = None if None in prices else round(sum(p or 0.0 for p in prices), 6)
    return Repayment(why, len(items), cost)
