"""What the report shows, as frozen dataclasses: the renderer turns a Page into HTML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.qc.report import ClipQc


@dataclass(frozen=True)
class ImageView:
    """A start or end image: a relative link when it is a local file, else its source text."""

    name: str
    kind: str  # "file" | "url" | "imagine"
    href: str | None  # URL-quoted path relative to report.html
    source: str  # what the spec says it is: URL, file hash, imagine prompt


@dataclass(frozen=True)
class ClipView:
    """One downloaded clip of a step, linked relative to report.html."""

    index: int  # batch index, 0-based as the spec's extend.index names it
    href: str
    size: int | None
    final: bool  # a clip of the last step of the chain: the longest video
    path: str = ""  # <job folder>/<file>, as the manifest and the review file name it
    sha256: str = ""
    verdict: str | None = None  # approved | rejected, from the review file (same sha256 only)
    stars: int | None = None
    note: str | None = None
    poster: str | None = None  # its poster frame (thumbs/), relative to report.html
    qc: ClipQc | None = None  # its clip check, when it was checked
    strip: str | None = None  # a strip of a few of its frames (thumbs/)


@dataclass(frozen=True)
class StepView:
    """The base submission (step 0) or one extension of a job."""

    step: int
    prompt: str | None
    motion: str
    extends: int  # batch index of the previous step's clip this step extends (0 for the base)
    status: str
    clips: tuple[ClipView, ...]


@dataclass(frozen=True)
class VersionView:
    """Clips of an earlier version of a job, replaced by a later run."""

    fingerprint: str
    attempt: int | None  # the provider attempt that made them, when the manifest says
    links: tuple[tuple[str, str], ...]  # (file name, href)


@dataclass(frozen=True)
class Card:
    """One job of the campaign."""

    name: str
    status: str
    take: int
    cost: float | None
    prompt_name: str | None
    prompt: str | None
    image: ImageView
    end_image: ImageView | None
    settings: tuple[tuple[str, str], ...]
    matrix: tuple[tuple[str, str], ...]
    steps: tuple[StepView, ...]
    versions: tuple[VersionView, ...]
    group: str  # equal for jobs that differ only by take
    currency: str = ""  # the unit of ``cost`` (pricing.currency)


@dataclass(frozen=True)
class Page:
    """The whole report: campaign name, totals, cards, and the matrix axes to filter by."""

    campaign: str
    description: str
    cards: Sequence[Card]  # may be made one at a time as they are read (large campaigns)
    axes: tuple[str, ...]
    totals: tuple[tuple[str, str], ...]
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()  # filter key -> its values, sorted
    token: str | None = None  # set on the live review page (`mjv review`): its controls work
