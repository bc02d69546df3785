"""The report's job entries: the manifest's, plus a never-run entry for each job it lacks."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.engine.manifest import job_entry
from orchestrator.model import Campaign, Job, chain
from orchestrator.results import JobEntry, Manifest


def planned_entry(campaign: Campaign, job: Job) -> JobEntry:
    """The manifest entry of ``job`` before anything ran, costed at the spec's prices
    (unknown when a price is)."""
    prices = [campaign.job_price("extend" if s.step else "video", job) for s in chain(job)]
    cost = None if None in prices else round(sum(p or 0.0 for p in prices), 6)
    return job_entry(job, {}, {}, cost)


def manifest_entries(campaign: Campaign, manifest: Manifest | None) -> Sequence[JobEntry]:
    """The manifest's job entries, plus a never-run one for each spec job it does not list.

    A manifest ``build_manifest`` made lists every job, sorted, each entry made as it is read:
    that sequence is returned as it is, so a large report never holds every entry at once.
    """
    jobs = manifest.jobs if manifest else ()
    if not isinstance(jobs, tuple | list) and len(jobs) == len(campaign.jobs):
        return jobs
    known = {job.name for job in jobs}
    missing = [planned_entry(campaign, job) for job in campaign.jobs if job.name not in known]
    return sorted([*jobs, *missing], key=lambda job: job.name)
