"""Manifest-shaped entries for jobs the manifest lacks (never run): every step pending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from orchestrator.model import Campaign, ImageSource, Job, JobStatus, chain


def planned_entry(campaign: Campaign, job: Job) -> dict[str, Any]:
    """The manifest entry ``build_manifest`` would write for ``job`` before anything ran."""
    steps = [
        {"step": step, "prompt": prompt, "motion": motion, "index": index, "status": "pending"}
        for step, _key, prompt, motion, index in chain(job)
    ]
    price = campaign.price(job.settings.mode)
    return {
        "name": job.name,
        "output": job.output_name,
        "image": image_entry(job.image),
        "end_image": image_entry(job.end_image) if job.end_image else None,
        "prompt_name": job.prompt_name,
        "prompt": job.prompt,
        "settings": asdict(job.settings),
        "take": job.take,
        "status": JobStatus.NEW,
        "steps": steps,
        "cost": None if price is None else round(price * len(steps), 6),
    }


def image_entry(image: ImageSource) -> dict[str, Any]:
    """An image as the manifest records it."""
    return {"name": image.name, "kind": image.kind, **image.identity()}


def manifest_entries(
    campaign: Campaign, manifest: dict[str, Any] | None
) -> Sequence[dict[str, Any]]:
    """The manifest's job entries, plus a pending one for each spec job it does not list.

    A manifest ``build_manifest`` made lists every job, sorted, each entry made as it is read:
    that sequence is returned as it is, so a large report never holds every entry at once.
    """
    jobs = (manifest or {}).get("jobs", [])
    if isinstance(jobs, Sequence) and not isinstance(jobs, list) and _lists_all(campaign, jobs):
        return jobs
    listed = [job for job in jobs if isinstance(job, dict)]
    known = {str(job.get("name")) for job in listed}
    missing = [planned_entry(campaign, job) for job in campaign.jobs if job.name not in known]
    return sorted(listed + missing, key=lambda job: str(job.get("name")))


def _lists_all(campaign: Campaign, jobs: Sequence[Any]) -> bool:
    return len(jobs) == len(campaign.jobs)
