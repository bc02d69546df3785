"""What the state store holds, as frozen dataclasses: submissions, attempts, files, totals."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.state.lifecycle import Status

STATUSES = tuple(Status)  # what a submission's status may be (its vocabulary is ``Status``)
KINDS = ("video", "extend", "imagine", "upscale", "upload", "modal")
MICROS = 1_000_000  # money is stored in integer millionths, so sums stay exact


def to_micros(amount: float) -> int:
    """An amount of money in stored micro-units."""
    return round(amount * MICROS)


@dataclass(frozen=True)
class SubmissionSpec:
    """One submission the engine declares from the plan; ``key`` is its fingerprint."""

    key: str
    job: str  # display name: the job's name, or the image's name for imagine/upscale
    kind: str  # one of KINDS
    step: int  # 0 for base clips, imagine, upscale and upload; 1..4 for extension steps
    parent: str | None  # key of the submission this one extends or upscales
    request: str | None = None  # canonical JSON of what it asks for (why a job changed)


@dataclass(frozen=True)
class Submission:
    """The recorded state of one submission of the store's campaign."""

    key: str
    job: str
    kind: str
    step: int
    parent: str | None
    status: str  # one of STATUSES
    attempt: int  # 0 before the first intent
    task_id: str | None
    failure: str | None  # "retryable" | "final" when status == "failed"
    reason: str | None
    clip_urls: tuple[str, ...]
    image_url: str | None
    lease_owner: str | None
    lease_until: float | None
    updated_at: float
    request: str | None = None  # canonical JSON of what it asks for, when declared with one

    @property
    def in_doubt(self) -> bool:
        """True when the intent was committed but the provider's answer was never recorded."""
        return self.status == Status.SUBMITTING


@dataclass(frozen=True)
class FileRecord:
    """One downloaded file of a submission, as checked on disk."""

    key: str
    index: int
    name: str  # file name, e.g. "clip-0.mp4"
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class QcRecord:
    """The clip check of one downloaded file: its content hash and the result's JSON."""

    key: str
    index: int
    sha256: str  # the content checked: a different file at that place is checked again
    passed: bool
    result: str  # QcResult.to_json()


@dataclass(frozen=True)
class FileVersion:
    """A file record a submission replaced (--force, retry, adoption), with its attempt."""

    attempt: int
    file: FileRecord


@dataclass(frozen=True)
class Attempt:
    """One attempt at a submission and the money it reserved, was charged and got back."""

    key: str
    attempt: int
    task_id: str | None
    reserved: float
    charged: float
    refunded: float
    outcome: str | None  # None while in flight; "in_doubt" when resent after a lost answer
    reason: str | None
    sent_key: str | None = None  # the idempotency key this attempt was sent with


@dataclass(frozen=True)
class UploadRecord:
    """Where an image with this content hash was uploaded, and when (for its expiry)."""

    sha256: str
    url: str
    recorded_at: float  # wall-clock seconds


@dataclass(frozen=True)
class Money:
    """The money of one submission over all its attempts."""

    charged: float
    refunded: float
    reserved: float  # held for sends whose answer never came: possibly charged

    @property
    def spent(self) -> float:
        """Charged minus refunded."""
        return round(self.charged - self.refunded, 6)


@dataclass(frozen=True)
class Totals:
    """Money of one campaign: ``spent`` is charged minus refunded."""

    spent: float
    reserved: float
    refunded: float
