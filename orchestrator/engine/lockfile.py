"""The committed manifest as a lock file: what ran, read back as records of its steps.

In CI there is no state file, only the `manifest.json` committed with the spec. Its steps,
read as ``LockedStep`` records (the part of a submission that classifying a job reads), let
`mjv plan` classify a pull request's jobs exactly as against the state: an unchanged job is
done, an edited one is changed (and why), so the plan prices only the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.graph import describe
from orchestrator.results import JobEntry, Manifest, StepEntry, settings_dict
from orchestrator.state import Status

FINISHED = frozenset({Status.SUCCEEDED, Status.DOWNLOADED})


@dataclass(frozen=True)
class LockedStep:
    """One step of a job as the lock file records it (see ``engine.status.Recorded``)."""

    key: str
    job: str
    kind: str  # "video" | "extend"
    step: int
    status: Status
    attempt: int  # 1 when it ran (or was sent), else 0
    request: str  # the request description the graph makes for the same step
    updated_at: float = 0.0  # the lock file keeps no times: every step is as old as the others


def locked_steps(manifest: Manifest) -> tuple[dict[str, LockedStep], dict[str, list[LockedStep]]]:
    """Steps by key, and each job's started steps by job name.

    Jobs with identical requests share a step (its key); the history by name keeps each
    job's own.
    """
    steps: dict[str, LockedStep] = {}
    history: dict[str, list[LockedStep]] = {}
    for job in manifest.jobs:
        for step in job.steps:
            if step.fingerprint is None:  # a hand-made entry names no submission
                continue
            locked = _locked(job, step, step.fingerprint)
            steps[locked.key] = locked
            if locked.attempt:
                history.setdefault(locked.job, []).append(locked)
    return steps, history


def _locked(job: JobEntry, step: StepEntry, key: str) -> LockedStep:
    started = step.status != Status.PENDING or bool(step.task_id)
    kind = "video" if step.step == 0 else "extend"
    return LockedStep(
        key, job.name, kind, step.step, step.status, int(started), _request(job, step)
    )


def _request(job: JobEntry, step: StepEntry) -> str:
    """The request description the graph makes for the same step (see graph.job_request)."""
    if step.step != 0:
        return describe({"prompt": step.prompt, "motion": step.motion, "index": step.index})
    request = {
        "image": job.image.identity() if job.image else {},
        "end_image": job.end_image.identity() if job.end_image else None,
        "prompt": job.prompt,
        "settings": settings_dict(job.settings),
        "take": job.take,
    }
    if job.provider != "cometapi":  # as graph.job_request: absent means CometAPI
        request["provider"] = job.provider
    return describe(request)


def finished_keys(steps: Mapping[str, LockedStep]) -> set[str]:
    """Keys a run would not send again."""
    return {key for key, step in steps.items() if step.status in FINISHED}
