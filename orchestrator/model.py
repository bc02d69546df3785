"""The planned campaign as frozen dataclasses: the spec loader makes them, the engine uses them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from orchestrator.providers.pricing import lookup, price_key
from orchestrator.qc.rules import QcRules

VIDEO_KINDS = ("video", "extend")  # priced by speed mode; imagine, upscale, upload, modal by kind
BASE_SECONDS = 5.0
EXTENSION_SECONDS = 4.0
MAX_EXTENSIONS = 4


class JobStatus(StrEnum):
    """The one vocabulary for a job, in the plan, the status, the manifest and a run's report.

    ``new``, ``done``, ``changed``, ``incomplete``, ``failed`` and ``orphaned`` say where a job
    stands against what ran; ``in_doubt``, ``blocked``, ``stuck`` and ``interrupted`` how a run
    left it short of done; ``waiting`` is a job done as far as it goes whose next extension
    step waits for an approved clip (``index: approved``).
    """

    NEW = "new"
    DONE = "done"
    CHANGED = "changed"
    INCOMPLETE = "incomplete"
    FAILED = "failed"
    ORPHANED = "orphaned"
    IN_DOUBT = "in_doubt"
    BLOCKED = "blocked"
    STUCK = "stuck"
    INTERRUPTED = "interrupted"
    WAITING = "waiting"  # its next extension step waits for a clip to be approved


def fingerprint(payload: Mapping[str, Any]) -> str:
    """Return the sha256 hex digest of the canonical JSON form of ``payload``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Settings:
    """Provider settings of one video submission (spec names, not wire names)."""

    mode: str = "fast"
    video_type: str = "vid_1.1_i2v_480"
    animate: str = "manual"
    motion: str = "low"
    batch_size: int = 1
    loop: bool = False
    raw: bool = False

    @property
    def price_key(self) -> str:
        """The ``pricing:`` key of this job's video submissions: the mode, ``_hd`` for HD."""
        return video_price_key(self.mode, self.video_type == HD_VIDEO_TYPE)


HD_VIDEO_TYPE = "vid_1.1_i2v_720"


def video_price_key(mode: str, hd: bool) -> str:
    """The ``pricing:`` key of a video submission (create or extend): resellers charge HD
    apart (``fast_hd``, ``turbo_hd``; relax makes no HD)."""
    return f"{mode}_hd" if hd else mode


@dataclass(frozen=True)
class ImageSource:
    """A named start (or end) frame: a URL, a local file, or a Midjourney-generated still."""

    name: str
    kind: str  # "url" | "file" | "imagine"
    url: str | None = None
    path: Path | None = None  # absolute path of a local file
    sha256: str | None = None  # content hash of a local file
    imagine: str | None = None  # Midjourney prompt of a generated still
    pick: int | None = None  # grid picture 1-4 of the imagine task
    mode: str = "fast"  # speed mode (path prefix) of an imagine source's imagine and upscale

    def identity(self) -> dict[str, Any]:
        """What identifies this image for fingerprints: URL, file hash, or imagine prompt + pick."""
        if self.kind == "url":
            return {"url": self.url}
        if self.kind == "file":
            return {"sha256": self.sha256}
        return {"imagine": self.imagine, "pick": self.pick}


@dataclass(frozen=True, slots=True)
class Extension:
    """One step of a job's extension plan; its fingerprint chains on the previous step's."""

    step: int  # 1..4
    prompt: str | None  # rendered motion text; None for an automatic extension
    motion: str
    index: int  # clip of the previous step to extend, < batch_size
    fingerprint: str


@dataclass(frozen=True)
class AwaitingStep:
    """An extension step not planned yet: it (or an earlier one) says ``index: approved``."""

    step: int  # 1..4
    prompt: str | None
    motion: str
    index: int | None  # None: the approved clip of the previous step


@dataclass(frozen=True, slots=True)
class Job:
    """One expanded job: a single video submission plus its extension chain."""

    name: str
    fingerprint: str
    image: ImageSource
    prompt_name: str | None
    prompt: str | None  # rendered motion text; None when animate is auto and no prompt is given
    settings: Settings
    take: int
    output_name: str  # folder of this job's clips, relative to Campaign.output_dir
    end_image: ImageSource | None = None
    extensions: tuple[Extension, ...] = ()
    matrix: tuple[tuple[str, Any], ...] = ()  # (axis, value) of this job's matrix row, axis order
    awaiting: tuple[AwaitingStep, ...] = ()  # steps after ``extensions`` that wait for a review
    approvals: tuple[tuple[int, str], ...] = ()  # (step, approved clip it extends) of its steps
    variables: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    qc: QcRules = field(default_factory=QcRules)  # the clip checks' rules (spec's qc:)
    retake: int = 0  # 0: the job as the spec says; n: its n-th retake after failed checks
    provider: str = "cometapi"  # the reseller that makes it (part of its identity unless cometapi)

    @property
    def key(self) -> str:
        """Short job key sent to the provider (``state`` field, Idempotency-Key)."""
        return self.fingerprint[:32]

    @property
    def seconds(self) -> float:
        """Seconds of video this job yields per clip, extensions included."""
        return BASE_SECONDS + EXTENSION_SECONDS * len(self.extensions)


class ChainStep(NamedTuple):
    """One submission of a job's chain: the base clip (step 0) or an extension (1-4)."""

    step: int
    fingerprint: str
    prompt: str | None  # rendered motion text; None for an automatic one
    motion: str
    extends: int  # the clip (batch index) of the previous step it extends; 0 for the base


def chain(job: Job) -> Iterator[ChainStep]:
    """The base clip's step, then each extension's, in order."""
    yield ChainStep(0, job.fingerprint, job.prompt, job.settings.motion, 0)
    for ext in job.extensions:
        yield ChainStep(ext.step, ext.fingerprint, ext.prompt, ext.motion, ext.index)


@dataclass(frozen=True)
class RunOptions:
    """Scheduling knobs from the spec's ``run:`` section (CLI flags override them)."""

    concurrency: int = 3
    max_rps: float = 2.0
    poll_interval: float = 3.0
    task_timeout: float = 3900.0  # the gateway itself fails a task after one hour
    max_attempts: int = 5
    max_banned_in_row: int = 3
    submit_ahead: int = 0  # jobs submitted beyond `concurrency`, to wait in the provider's queue


@dataclass(frozen=True)
class Campaign:
    """A loaded, validated and expanded campaign spec."""

    name: str
    spec_path: Path
    description: str
    output_dir: Path  # absolute
    jobs: tuple[Job, ...]
    pricing: Mapping[str, float] = field(default_factory=dict)  # mode (or "imagine") -> price
    max_cost: float | None = None
    run: RunOptions = field(default_factory=RunOptions)
    export_name: str = "{{ job }}.mp4"  # template of an exported clip's file name
    currency: str = "USD"  # pricing.currency: the label every amount is shown with
    provider: str = "cometapi"  # the spec's written top-level provider: flat ``pricing:`` keys' one
    # Every provider's prices, published ones overridden by the spec (``pricing.<provider>``).
    provider_pricing: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def prices_of(self, provider: str) -> Mapping[str, float]:
        """The price table of ``provider`` (the flat ``pricing:`` for the spec's provider)."""
        if provider == self.provider:
            return self.pricing
        return self.provider_pricing.get(provider, {})

    def job_price(self, kind: str, job: Job) -> float | None:
        """Price of one ``kind`` (video or extend) submission of ``job`` on its provider."""
        s = job.settings
        key = price_key(job.provider, kind, s.mode, s.video_type, s.batch_size)
        return lookup(self.prices_of, key)

    def price_by_key(self, key: str) -> float | None:
        """Price of one submission with price key ``key`` (see providers.pricing)."""
        return lookup(self.prices_of, key)

    def price(self, mode: str) -> float | None:
        """Price of one submission in ``mode``, or None when unknown."""
        return self.pricing.get(mode)

    def price_of(self, kind: str, mode: str = "fast", *, hd: bool = False) -> float | None:
        """Price of one submission of ``kind``: video calls by mode and resolution, the rest
        by kind."""
        return self.pricing.get(video_price_key(mode, hd) if kind in VIDEO_KINDS else kind)
