"""What is there to review: the campaign's current clips, read from its manifest.

The manifest is read through these few functions only, so the rest of the review code does
not depend on its shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.model import Campaign
from orchestrator.qc.manifest import file_check
from orchestrator.qc.rules import QcResult
from orchestrator.results import Manifest
from orchestrator.review.names import clip_path
from orchestrator.review.resolve import Files, apply_review, files_of_manifest, files_of_store
from orchestrator.review.reviewfile import Review, load_review, review_path


@dataclass(frozen=True)
class Clip:
    """One downloaded clip of the campaign, as the manifest names it."""

    path: str  # <job folder>/<file>
    sha256: str
    job: str
    step: int
    index: int
    final: bool  # a clip of the job's last step
    check: QcResult | None = None  # its clip check, when the manifest has one


def manifest_clips(manifest: Manifest | None) -> Iterator[Clip]:
    """Every current clip the manifest lists, job by job, step by step."""
    for job in manifest.jobs if manifest else ():
        last = len(job.steps) - 1
        for number, step in enumerate(job.steps):
            for f in step.files:
                path = clip_path(job.output, f.name)
                final = number == last
                yield Clip(path, f.sha256, job.name, step.step, f.index, final, file_check(f))


def campaign_review(campaign: Campaign) -> Review:
    """The review file of ``campaign`` (empty when there is none)."""
    return load_review(review_path(campaign.spec_path))


def reviewed(campaign: Campaign, files: Files) -> Campaign:
    """``campaign`` with its approved extension steps planned (``files``: the clips there are)."""
    if not any(job.awaiting for job in campaign.jobs):
        return campaign  # nothing waits: the review file need not even be read
    return apply_review(campaign, campaign_review(campaign), files)


def reviewed_from_manifest(campaign: Campaign, manifest: Manifest | None) -> Campaign:
    """``reviewed`` with the clips a manifest lists."""
    if not any(job.awaiting for job in campaign.jobs):
        return campaign
    return reviewed(campaign, files_of_manifest(manifest))


@dataclass(frozen=True)
class Counts:
    """How many of the current clips are approved, rejected and unreviewed."""

    approved: int = 0
    rejected: int = 0
    unreviewed: int = 0

    def text(self) -> str:
        """``3 approved, 1 rejected, 12 unreviewed``."""
        return f"{self.approved} approved, {self.rejected} rejected, {self.unreviewed} unreviewed"


def count_verdicts(review: Review, clips: Iterator[Clip]) -> Counts:
    """Verdicts over ``clips`` (a verdict on an earlier clip of the same name does not count)."""
    tally = {"approved": 0, "rejected": 0, "unreviewed": 0}
    for clip in clips:
        verdict = review.on(clip.path, clip.sha256)
        tally[(verdict.verdict if verdict else None) or "unreviewed"] += 1
    return Counts(**tally)


def campaign_counts(campaign: Campaign, files: Files) -> Counts | None:
    """Verdicts over the clips of ``campaign``'s current chains (None without a review file
    and nothing waiting for one: a plan of a campaign nobody reviews reads nothing)."""
    path = review_path(campaign.spec_path)
    if not path.exists() and not any(job.awaiting for job in campaign.jobs):
        return None
    review = load_review(path)
    return count_verdicts(review, _chain_clips(campaign, files))


def _chain_clips(campaign: Campaign, files: Files) -> Iterator[Clip]:
    for job in campaign.jobs:
        keys = [(0, job.fingerprint), *((e.step, e.fingerprint) for e in job.extensions)]
        for number, (step, key) in enumerate(keys):
            for name, sha256 in files.get(key, ()):
                final = number == len(keys) - 1
                yield Clip(clip_path(job.output_name, name), sha256, job.name, step, 0, final)


def review_summary(campaign: Campaign, files: Files) -> str:
    """The review's lines of a run summary: verdict counts, and the jobs waiting for one."""
    counts = campaign_counts(campaign, files)
    if counts is None:
        return ""
    waiting = sum(1 for job in campaign.jobs if job.awaiting)
    text = f"review: {counts.text()}\n"
    if waiting:
        text += (
            f"  {waiting} jobs wait for an approved clip to extend: "
            f"mjv review {campaign.spec_path.name}\n"
        )
    return text


def load_reviewed(
    campaign: Campaign, state: str | None, default_path: Path
) -> tuple[Campaign, Manifest | None]:
    """The campaign with its approved steps planned, and its manifest: the state's when there
    is a state (looking never creates one), else the written manifest, else None."""
    from orchestrator.engine.manifest import build_manifest, manifest_path, read_results
    from orchestrator.state import open_state, state_found

    if state_found(state, default_path=default_path):
        with open_state(state, campaign.name, default_path=default_path) as store:
            campaign = reviewed(campaign, files_of_store(store.all_files()))
            return campaign, build_manifest(campaign, store)
    manifest = read_results(manifest_path(campaign))
    return reviewed_from_manifest(campaign, manifest), manifest
