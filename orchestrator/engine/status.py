"""What the state file says of a campaign: job classes for `plan`, counts for `status`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orchestrator.changes import differences
from orchestrator.engine.downloads import file_matches
from orchestrator.engine.ledger import unpriced_submissions
from orchestrator.graph import build_graph, job_request, upload_key
from orchestrator.model import Campaign, Job, JobStatus, chain
from orchestrator.qc.campaign import failed_checks
from orchestrator.state import FileRecord, Status, Store, Submission
from orchestrator.uploads import is_fresh

FINISHED = frozenset({Status.SUCCEEDED, Status.DOWNLOADED})


class Recorded(Protocol):
    """What classifying a job reads of a submission: the state's, or a lock file's step."""

    @property
    def key(self) -> str: ...
    @property
    def job(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def step(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def request(self) -> str | None: ...
    @property
    def updated_at(self) -> float: ...


@dataclass(frozen=True)
class Classes:
    """Each job's class against the state, why changed jobs changed, damaged files, orphans."""

    jobs: Mapping[str, JobStatus]  # new, done, changed, failed or incomplete
    orphaned: tuple[str, ...]
    why: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # changed job -> lines
    damaged: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # job -> file lines


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
    damaged: tuple[str, ...] = ()  # "job: file missing|altered"
    unpriced: int = 0  # accepted submissions of unknown price (not in ``spent``)
    currency: str = "USD"  # the unit of the money (pricing.currency)
    qc_failed: tuple[str, ...] = ()  # "job step clip N: reasons" of clips failing their checks


def classify(
    campaign: Campaign,
    subs: Mapping[str, Recorded],
    files: Mapping[str, Sequence[FileRecord]] | None = None,
    history: Mapping[str, Sequence[Recorded]] | None = None,
) -> Classes:
    """Class of every job of ``campaign`` given the state's submissions by key.

    With ``files`` (recorded downloads by key) a job whose files are missing from its folder
    or differ from their recorded sha256 is ``incomplete``, not ``done``. ``history`` gives each
    job name's started submissions (default: by the submissions' own job name).
    """
    by_name = _history(subs) if history is None else history
    classes, why, damaged = {}, {}, {}
    for job in campaign.jobs:
        status = _classify(job, subs, by_name)
        if status == JobStatus.DONE and files is not None:
            broken = _damaged(job, campaign.output_dir, files)
            if broken:
                status, damaged[job.name] = JobStatus.INCOMPLETE, broken
        if status == JobStatus.CHANGED:
            why[job.name] = tuple(_why(job, subs, by_name))
        if status == JobStatus.DONE and job.awaiting:  # done so far; the rest waits for a review
            status = JobStatus.WAITING
        classes[job.name] = status
    return Classes(classes, _orphaned(campaign, subs), why, damaged)


def _history(subs: Mapping[str, Recorded]) -> dict[str, list[Recorded]]:
    """Started clip submissions by job name, newest first."""
    by_name: dict[str, list[Recorded]] = {}
    for sub in subs.values():
        if sub.kind in ("video", "extend") and sub.attempt:
            by_name.setdefault(sub.job, []).append(sub)
    for history in by_name.values():
        history.sort(key=lambda sub: sub.updated_at, reverse=True)
    return by_name


def _orphaned(campaign: Campaign, subs: Mapping[str, Recorded]) -> tuple[str, ...]:
    planned = {step.fingerprint for job in campaign.jobs for step in chain(job)}
    names = {job.name for job in campaign.jobs}
    return tuple(
        sorted(
            {
                sub.job
                for sub in subs.values()
                if sub.kind == "video"
                and sub.key not in planned
                and sub.job not in names
                and sub.status != Status.PENDING
            }
        )
    )


def _classify(
    job: Job, subs: Mapping[str, Recorded], by_name: Mapping[str, Sequence[Recorded]]
) -> JobStatus:
    steps = [subs.get(step.fingerprint) for step in chain(job)]
    statuses = [sub.status if sub else Status.PENDING for sub in steps]
    if all(status == Status.DOWNLOADED for status in statuses):
        return JobStatus.DONE
    if Status.FAILED in statuses:
        return JobStatus.FAILED
    started = [s for s in steps if s is not None and (s.attempt or s.status != Status.PENDING)]
    if started:
        # A run declares every step of the spec it ran, sent or not: a step the state has
        # never heard of was added or edited since (changed); a declared one not yet sent
        # (Ctrl-C, a budget block, a failed step before it) is the same spec's work left over.
        edited = any(sub is None for sub in steps)
        return JobStatus.CHANGED if edited else JobStatus.INCOMPLETE
    earlier = [s for s in by_name.get(job.name, ()) if s.kind == "video"]
    return JobStatus.CHANGED if any(s.key != job.fingerprint for s in earlier) else JobStatus.NEW


def _why(
    job: Job, subs: Mapping[str, Recorded], by_name: Mapping[str, Sequence[Recorded]]
) -> list[str]:
    history = by_name.get(job.name, [])
    base = subs.get(job.fingerprint)
    if base is None or not base.attempt:
        old = next((s for s in history if s.kind == "video" and s.key != job.fingerprint), None)
        return differences(old.request if old else None, job_request(job))
    for ext in job.extensions:
        if subs.get(ext.fingerprint) is not None:  # declared: what ran asked for it too
            continue
        where = f"extension {ext.step}"
        old = next((s for s in history if s.kind == "extend" and s.step == ext.step), None)
        if old is None:
            return [f"{where}: added"]
        new = {"prompt": ext.prompt, "motion": ext.motion, "index": ext.index}
        lines = differences(old.request, new, where)
        if lines[0].endswith("same fields, different fingerprint"):
            return [f"{where}: re-made because an earlier step changed"]
        return lines
    return ["a step of its chain changed"]


def _damaged(job: Job, output: Path, files: Mapping[str, Sequence[FileRecord]]) -> tuple[str, ...]:
    """Recorded clips of ``job`` missing from disk or different from their sha256."""
    folder = output / job.output_name
    lines = []
    for step in chain(job):
        for record in files.get(step.fingerprint, ()):
            path = folder / record.name
            if not path.exists():
                lines.append(f"{job.output_name}/{record.name} missing")
            elif not file_matches(path, record.sha256, record.size):
                lines.append(f"{job.output_name}/{record.name} altered (sha256 differs)")
    return tuple(lines)


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


def campaign_status(campaign: Campaign, store: Store) -> CampaignStatus:
    """Summarise the state of ``campaign`` (its files on disk included)."""
    subs = {sub.key: sub for sub in store.submissions()}
    classes = classify(campaign, subs, store.all_files())
    planned = {step.fingerprint for job in campaign.jobs for step in chain(job)}
    current = [
        sub
        for sub in subs.values()
        if sub.key in planned
        or sub.kind in _SOURCES
        or (sub.kind == "modal" and sub.parent in planned)
    ]
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
                if sub.status == Status.FAILED
            )
        ),
        orphaned=classes.orphaned,
        spent=totals.spent,
        reserved=totals.reserved,
        refunded=totals.refunded,
        damaged=tuple(
            f"{name}: {line}" for name, lines in sorted(classes.damaged.items()) for line in lines
        ),
        unpriced=unpriced_submissions(campaign, build_graph(campaign.jobs), store),
        currency=campaign.currency,
        qc_failed=failed_checks(store),
    )


def empty_status(campaign: Campaign) -> CampaignStatus:
    """Status of a campaign that has no state file yet: every job is new."""
    return CampaignStatus(
        campaign.name,
        len(campaign.jobs),
        {JobStatus.NEW: len(campaign.jobs)} if campaign.jobs else {},
        {},
        (),
        (),
        (),
        0.0,
        0.0,
        0.0,
        currency=campaign.currency,
    )


_SOURCES = ("imagine", "upscale", "upload")


def _label(sub: Submission) -> str:
    if sub.kind == "modal":
        return f"{sub.job} (modal answer{f', extension {sub.step}' if sub.step else ''})"
    if sub.kind == "extend":
        return f"{sub.job} (extension {sub.step})"
    if sub.kind in _SOURCES:
        return f"image {sub.job} ({sub.kind})"
    return sub.job
