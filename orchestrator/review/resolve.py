"""Extension steps with ``index: approved``, planned from the review file's approvals (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from orchestrator.model import Campaign, Extension, Job
from orchestrator.results import Manifest
from orchestrator.review.names import clip_path, clip_step
from orchestrator.review.reviewfile import APPROVED, Review
from orchestrator.spec.identity import extension_fingerprint

# Submission key -> (file name, sha256) of each clip it downloaded, as the state or manifest says.
Files = Mapping[str, Sequence[tuple[str, str]]]


def apply_review(campaign: Campaign, review: Review, files: Files) -> Campaign:
    """``campaign`` with each awaiting step planned as far as approvals allow.

    A step with ``index: approved`` extends the approved clip of the previous step, when that
    clip is still the one approved (same sha256); steps after one still waiting keep waiting.
    """
    if not any(job.awaiting for job in campaign.jobs):
        return campaign
    jobs = tuple(_resolved(job, review, files) if job.awaiting else job for job in campaign.jobs)
    return replace(campaign, jobs=jobs)


def _resolved(job: Job, review: Review, files: Files) -> Job:
    steps = list(job.extensions)
    parent = steps[-1].fingerprint if steps else job.fingerprint
    waiting, approvals = list(job.awaiting), list(job.approvals)
    while waiting:
        step = waiting[0]
        index = step.index if step.index is not None else approved_index(job, review, files, parent)
        if index is None:
            break
        if step.index is None:
            approvals.append((step.step, _clip_of(job, files, parent, index)))
        parent = extension_fingerprint(parent, step.prompt, step.motion, index)
        steps.append(Extension(step.step, step.prompt, step.motion, index, parent))
        waiting.pop(0)
    return replace(
        job, extensions=tuple(steps), awaiting=tuple(waiting), approvals=tuple(approvals)
    )


def _clip_of(job: Job, files: Files, parent: str, index: int) -> str:
    name = next(name for name, _ in files.get(parent, ()) if clip_step(name)[2] == index)
    return clip_path(job.output_name, name)


def approved_index(job: Job, review: Review, files: Files, parent: str) -> int | None:
    """The batch index of the approved clip among ``parent``'s clips, None when there is none."""
    for name, sha256 in files.get(parent, ()):
        verdict = review.on(clip_path(job.output_name, name), sha256)
        if verdict is not None and verdict.verdict == APPROVED:
            return clip_step(name)[2]
    return None


def files_of_store(records: Mapping[str, Iterable[Any]]) -> dict[str, list[tuple[str, str]]]:
    """``Files`` from the state's file records by key (``Store.all_files()``)."""
    return {key: [(r.name, r.sha256) for r in listed] for key, listed in records.items()}


def files_of_manifest(manifest: Manifest | None) -> dict[str, list[tuple[str, str]]]:
    """``Files`` from a manifest's steps."""
    found: dict[str, list[tuple[str, str]]] = {}
    for job in manifest.jobs if manifest else ():
        for step in job.steps:
            if step.files and step.fingerprint:
                found[step.fingerprint] = [(f.name, f.sha256) for f in step.files]
    return found
