"""``mjv qc``'s library side: check the clips of a campaign already on disk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from orchestrator.model import Campaign, Job, chain
from orchestrator.qc.images import ImageCache
from orchestrator.qc.rules import QcResult
from orchestrator.qc.takes import ClipChecker, retake_of
from orchestrator.state import Store


@dataclass(frozen=True)
class CheckedClip:
    """One clip's check, named as the report names it."""

    job: str
    path: str  # relative to the output folder
    result: QcResult


def check_campaign(
    campaign: Campaign,
    store: Store,
    jobs: Iterable[Job],
    warn: Callable[[str], None] = lambda _: None,
) -> list[CheckedClip]:
    """Check every downloaded clip of ``jobs`` (and their retakes) not checked as it is now.

    Start and end images sent by URL are compared when a run has fetched them (nothing is
    downloaded here); ``warn`` hears of those that are not at hand.
    """
    return asyncio.run(_check_all(campaign, store, list(jobs), warn))


async def _check_all(
    campaign: Campaign, store: Store, jobs: list[Job], warn: Callable[[str], None]
) -> list[CheckedClip]:
    checker = ClipChecker(store, images=ImageCache(campaign.output_dir, None), warn=warn)
    found: list[CheckedClip] = []
    try:
        for job in jobs:
            for number in range(job.qc.retakes + 1):
                found += await _check_take(campaign, store, checker, retake_of(job, number))
    finally:
        checker.close()
    return found


async def _check_take(
    campaign: Campaign, store: Store, checker: ClipChecker, take: Job
) -> list[CheckedClip]:
    folder = campaign.output_dir / take.output_name
    found = []
    for _, key, *_ in chain(take):
        sub = store.get(key)
        records = store.files(key) if sub is not None else []
        if sub is None or not records:
            continue
        await checker.check(take, sub, records, folder)
        for record in records:
            result = checker.result(key, record.index)
            if result is not None:
                found.append(CheckedClip(take.name, f"{take.output_name}/{record.name}", result))
    return found


def failed_checks(store: Store) -> tuple[str, ...]:
    """``job step clip N: reasons`` of every checked clip that failed, as the state has them."""
    subs = {sub.key: sub for sub in store.submissions()}
    lines = []
    for (key, index), record in sorted(store.qc_results().items()):
        sub = subs.get(key)
        if record.passed or sub is None:
            continue
        step = f"extension {sub.step}" if sub.step else "base"
        reasons = "; ".join(QcResult.from_json(record.result).reasons)
        lines.append(f"{sub.job} {step} clip {index}: {reasons}")
    return tuple(sorted(lines))
