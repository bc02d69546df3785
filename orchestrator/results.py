"""The manifest as typed values: what ran, per job, step and file, read and written one way.

``engine/manifest.py`` builds these from the state and writes them; ``plan`` (against a
committed manifest), ``report`` and anything later that reads results read them. ``to_json``
gives the exact objects the manifest file holds (``schema/manifest.schema.json``); ``from_json``
reads them back, tolerating what an older or hand-edited manifest leaves out and naming the
job and field of what it gets wrong. Unknown keys of a file record are kept, so a later field
(a clip's QC record, say) can be added without older readers losing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from orchestrator.errors import ManifestError
from orchestrator.model import ImageSource, JobStatus, Settings
from orchestrator.state.lifecycle import Status

_SETTING_NAMES = tuple(f.name for f in fields(Settings))
MANIFEST_NAME = "manifest.json"  # in the campaign's output folder
MANIFEST_VERSION = 1
T = TypeVar("T")


@dataclass(frozen=True)
class ImageEntry:
    """A start or end image as recorded: its name, kind and identity (URL, hash or prompt)."""

    name: str
    kind: str  # "url" | "file" | "imagine"
    url: str | None = None
    sha256: str | None = None
    imagine: str | None = None
    pick: int | None = None

    @classmethod
    def of(cls, image: ImageSource) -> ImageEntry:
        """The entry of a spec's image."""
        return cls(image.name, image.kind, image.url, image.sha256, image.imagine, image.pick)

    def identity(self) -> dict[str, Any]:
        """What identifies the image in fingerprints (the same keys as ``ImageSource``)."""
        if self.kind == "url":
            return {"url": self.url}
        if self.kind == "file":
            return {"sha256": self.sha256}
        return {"imagine": self.imagine, "pick": self.pick}

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds."""
        return {"name": self.name, "kind": self.kind, **self.identity()}


@dataclass(frozen=True)
class FileEntry:
    """One downloaded clip of a step; ``extra`` keeps keys this version does not know."""

    index: int
    name: str
    url: str
    sha256: str
    bytes: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds."""
        known = {"index": self.index, "name": self.name, "url": self.url, "sha256": self.sha256}
        return {**self.extra, **known, "bytes": self.bytes}


@dataclass(frozen=True)
class StepEntry:
    """One submission of a job's chain (step 0 the base clip, 1-4 extensions) and its files."""

    step: int
    fingerprint: str | None
    prompt: str | None
    motion: str
    index: int  # the clip of the previous step it extends
    status: Status
    task_id: str | None
    files: tuple[FileEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds."""
        return {
            "step": self.step,
            "fingerprint": self.fingerprint,
            "prompt": self.prompt,
            "motion": self.motion,
            "index": self.index,
            "status": str(self.status),
            "task_id": self.task_id,
            "files": [f.to_json() for f in self.files],
        }


@dataclass(frozen=True)
class KeptFile:
    """An earlier clip kept under the job's ``versions/`` folder."""

    name: str
    sha256: str
    bytes: int | None

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds."""
        return {"name": self.name, "sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class VersionEntry:
    """The clips one earlier submission (fingerprint, attempt) left under ``versions/``."""

    fingerprint: str
    attempt: int | None
    files: tuple[KeptFile, ...]

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds."""
        listed = [f.to_json() for f in self.files]
        return {"fingerprint": self.fingerprint, "attempt": self.attempt, "files": listed}


@dataclass(frozen=True)
class RetakeEntry:
    """A new take of a job whose clips failed their checks (``qc.on_fail: retake``)."""

    retake: int  # 1..5
    fingerprint: str | None
    output: str  # its folder, relative to the output folder
    status: JobStatus
    steps: tuple[StepEntry, ...]

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds."""
        return {
            "retake": self.retake,
            "fingerprint": self.fingerprint,
            "output": self.output,
            "status": str(self.status),
            "steps": [step.to_json() for step in self.steps],
        }


@dataclass(frozen=True)
class JobEntry:
    """One job of the campaign: what it asked for, where each step stands, what it cost."""

    name: str
    fingerprint: str | None
    output: str  # the job's folder, relative to the output folder
    image: ImageEntry | None
    end_image: ImageEntry | None
    prompt_name: str | None
    prompt: str | None
    settings: Settings
    take: int
    status: JobStatus
    steps: tuple[StepEntry, ...]
    matrix: tuple[tuple[str, Any], ...] = ()
    cost: float | None = None  # spent on its steps, refunds deducted; None when unknown
    versions: tuple[VersionEntry, ...] = ()
    retakes: tuple[RetakeEntry, ...] = ()
    provider: str = "cometapi"  # the reseller that made it

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds (``versions`` and ``retakes`` only when there are
        some, ``provider`` only when not CometAPI)."""
        entry = {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "output": self.output,
            "image": self.image.to_json() if self.image else None,
            "end_image": self.end_image.to_json() if self.end_image else None,
            "prompt_name": self.prompt_name,
            "prompt": self.prompt,
            "settings": settings_dict(self.settings),
            "take": self.take,
            "status": str(self.status),
            "steps": [step.to_json() for step in self.steps],
            "matrix": dict(self.matrix),
            "cost": self.cost,
        }
        if self.versions:  # only then: manifests without versions keep their exact bytes
            entry["versions"] = [version.to_json() for version in self.versions]
        if self.retakes:
            entry["retakes"] = [retake.to_json() for retake in self.retakes]
        if self.provider != "cometapi":  # likewise for manifests made before other providers
            entry["provider"] = self.provider
        return entry

    def files(self) -> Iterator[FileEntry]:
        """Every current file of the job, step by step."""
        return (f for step in self.steps for f in step.files)


@dataclass(frozen=True)
class SourceEntry:
    """An upload, imagine grid or upscale the campaign's jobs need."""

    fingerprint: str
    kind: str
    image: str  # the image's name in the spec
    status: Status
    task_id: str | None
    image_url: str | None
    cost: float

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds."""
        return {
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "image": self.image,
            "status": str(self.status),
            "task_id": self.task_id,
            "image_url": self.image_url,
            "cost": self.cost,
        }


@dataclass(frozen=True)
class SpentOn:
    """Where the money went: the campaign's jobs, its sources, and work no longer planned."""

    jobs: float = 0.0
    sources: float = 0.0
    earlier: float = 0.0


@dataclass(frozen=True)
class Totals:
    """Counts and money of the whole campaign, the same figures `mjv status` shows."""

    jobs: int = 0
    done: int = 0
    files: int = 0
    bytes: int = 0
    spent: float = 0.0
    refunded: float = 0.0
    possibly_charged: float = 0.0
    spent_on: SpentOn = field(default_factory=SpentOn)
    unpriced_submissions: int = 0  # accepted at an unknown price: not in ``spent``, not free

    def to_json(self) -> dict[str, Any]:
        """The object the manifest holds."""
        return asdict(self)


@dataclass(frozen=True)
class Manifest:
    """A campaign's manifest; ``jobs`` sorted by name, possibly made one at a time as read."""

    campaign: str
    jobs: Sequence[JobEntry]
    sources: tuple[SourceEntry, ...] = ()
    totals: Totals = field(default_factory=Totals)
    description: str | None = None  # only a manifest naming its campaign by an object has one
    currency: str | None = None  # the unit of its amounts (pricing.currency); older ones: none

    def to_json(self) -> dict[str, Any]:
        """The manifest file's object; its ``jobs`` made one at a time as they are read."""
        return {
            "manifest_version": MANIFEST_VERSION,
            "campaign": self.campaign,
            **({"currency": self.currency} if self.currency is not None else {}),
            "jobs": _Mapped(self.jobs, JobEntry.to_json),
            "sources": [source.to_json() for source in self.sources],
            "totals": self.totals.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        """Read a manifest's object; ManifestError names the job and field it cannot read."""
        from orchestrator.results_json import read_manifest_object

        return read_manifest_object(data)


def settings_dict(settings: Settings) -> dict[str, Any]:
    """Every setting by name, in field order (``asdict`` without its deep copies: all scalars)."""
    return {name: getattr(settings, name) for name in _SETTING_NAMES}


class _Mapped(Sequence[Any]):
    """``function`` of each item of ``items``, made when it is asked for."""

    def __init__(self, items: Sequence[T], function: Callable[[T], Any]) -> None:
        self._items: Sequence[Any] = items
        self._function: Callable[[Any], Any] = function

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._function(item) for item in self._items[index]]
        return self._function(self._items[index])


__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "FileEntry",
    "ImageEntry",
    "JobEntry",
    "KeptFile",
    "Manifest",
    "ManifestError",
    "RetakeEntry",
    "SourceEntry",
    "SpentOn",
    "StepEntry",
    "Totals",
    "VersionEntry",
    "settings_dict",
]
