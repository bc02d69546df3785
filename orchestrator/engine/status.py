"""What the state file says of a campaign: job classes for `plan`, counts for `status`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.graph import upload_key
from orchestrator.model import Campaign, Job, chain
from orchestrator.state import Store, Submission
from orchestrator.uploads import is_fresh

FINISHED = ("succeeded", "downloaded")


@dataclass(frozen=True)
class Classes:
    """Each job's class against the state (fingerprint -> class) and the orphaned job names."""

    jobs: Mapping[str, str]  # job name -> "new" | "done" | "changed" | "failed" | "incomplete"
    remaining: Mapping[str, int]  # job name -> submissions a run still has to make
    orphaned: tuple[str, ...]


@dataclass(frozen=True)
class CampaignStatus:
    """Counts per submission state, in-doubt and failed submissions, and the money."""

    campaign: str
    jobs: int
    classes: Mapping[str, int]
    states: Mapping[str, int]
    in_doubt: tuple[str, ...]
    failures: tuple[tuple[str, str, str], ...]  # (job, "final"|"retryable", reason)
    orphaned: tuple[str, ...]
    spent: float
    reserved: float
    refunded: float


def classify(campaign: Campaign, subs: Mapping[str, Submission]) -> Classes:
    """Class of every job of ``campaign`` given the state's submissions by key."""
    planned = {key for job in campaign.jobs for _, key, *_ in chain(job)}
    names = {job.name for job in campaign.jobs}
    by_name: dict[str, set[str]] = {}
    for sub in subs.values():
        if sub.kind == "video" and sub.attempt:
            by_name.setdefault(sub.job, set()).add(sub.key)
    classes = {job.name: _classify(job, subs, by_name) for job in campaign.jobs}
    remaining = {job.name: _remaining(job, subs) for job in campaign.jobs}
    orphaned = sorted(
        {
            sub.job
            for sub in subs.values()
            if sub.kind == "video"
            and sub.key not in planned
            and sub.job not in names
            and sub.status != "pending"
        }
    )
    return Classes(classes, remaining, tuple(orphaned))


def done_keys(campaign: Campaign, store: Store, now: float) -> set[str]:
    """Keys of the submission graph a run need not send: finished, or an upload still fresh."""
    done = {sub.key for sub in store.submissions() if sub.status in FINISHED}
    done -= {sub.key for sub in store.submissions() if sub.kind == "upload"}
    for job in campaign.jobs:
        for image in (job.image, job.end_image):
            if image is None or image.kind != "file" or image.sha256 is None:
                continue
            record = store.upload(image.sha256)
            if record is not None and is_fresh(record, now):
                done.add(upload_key(image))
    return done


def _remaining(job: Job, subs: Mapping[str, Submission]) -> int:
    done = ("succeeded", "downloaded")
    return sum(1 for _, key, *_ in chain(job) if key not in subs or subs[key].status not in done)


def _classify(job: Job, subs: Mapping[str, Submission], by_name: Mapping[str, set[str]]) -> str:
    steps = [subs.get(key) for _, key, *_ in chain(job)]
    statuses = [sub.status if sub else "pending" for sub in steps]
    if all(status == "downloaded" for status in statuses):
        return "done"
    if "failed" in statuses:
        return "failed"
    started = [s for s in steps if s is not None and (s.attempt or s.status != "pending")]
    if started:
        return "changed" if statuses[0] == "downloaded" and "pending" in statuses else "incomplete"
    return "changed" if by_name.get(job.name, set()) - {job.fingerprint} else "new"


def campaign_status(campaign: Campaign, store: Store) -> CampaignStatus:
    """Summarise the state of ``campaign``."""
    subs = {sub.key: sub for sub in store.submissions()}
    classes = classify(campaign, subs)
    planned = {key for job in campaign.jobs for _, key, *_ in chain(job)}
    current = [sub for sub in subs.values() if sub.key in planned or sub.kind in _SOURCES]
    totals = store.totals()
    return CampaignStatus(
        campaign=campaign.name,
        jobs=len(campaign.jobs),
        classes=dict(sorted(Counter(classes.jobs.values()).items())),
        states=dict(sorted(Counter(sub.status for sub in current).items())),
        in_doubt=tuple(sorted(_label(sub) for sub in current if sub.in_doubt)),
        failures=tuple(
            sorted(
                (_label(sub), sub.failure or "retryable", sub.reason or "")
                for sub in current
                if sub.status == "failed"
            )
        ),
        orphaned=classes.orphaned,
        spent=totals.spent,
        reserved=totals.reserved,
        refunded=totals.refunded,
    )


def empty_status(campaign: Campaign) -> CampaignStatus:
    """Status of a campaign that has no state file yet: every job is new."""
    return CampaignStatus(
        campaign.name,
        len(campaign.jobs),
        {"new": len(campaign.jobs)} if campaign.jobs else {},
        {},
        (),
        (),
        (),
        0.0,
        0.0,
        0.0,
    )


_SOURCES = ("imagine", "upscale")


def _label(sub: Submission) -> str:
    if sub.kind == "extend":
        return f"{sub.job} (extension {sub.step})"
    if sub.kind in _SOURCES:
        return f"image {sub.job} ({sub.kind})"
    return sub.job
