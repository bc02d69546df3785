"""Reading a manifest's JSON into ``results``: lenient on what is missing, exact on types.

An older or hand-edited manifest may leave fields out (they take the value an unrun job has);
a field of the wrong type is a ManifestError naming the job and the field, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from orchestrator.errors import ManifestError
from orchestrator.model import JobStatus, Settings
from orchestrator.results import (
    FileEntry,
    ImageEntry,
    JobEntry,
    KeptFile,
    Manifest,
    RetakeEntry,
    SourceEntry,
    SpentOn,
    StepEntry,
    Totals,
    VersionEntry,
)
from orchestrator.state.lifecycle import Status

_FILE_KEYS = ("index", "name", "url", "sha256", "bytes")
_SETTINGS = {f.name for f in fields(Settings)}


class _Fields:
    """One JSON object read key by key; a value of the wrong type names where it is."""

    def __init__(self, data: object, where: str) -> None:
        self.where = where
        if not isinstance(data, Mapping):
            raise self.error("not an object")
        self.data: Mapping[str, Any] = data

    def error(self, problem: str) -> ManifestError:
        """The error of ``problem`` here (the reader prefixes the file)."""
        return ManifestError(f"{self.where}: unexpected manifest content: {problem}")

    def _get(self, key: str, kinds: tuple[type, ...], label: str) -> Any:
        value = self.data.get(key)
        if value is None or type(value) in kinds:  # what json.loads makes: the exact types
            return value
        if isinstance(value, kinds) and not isinstance(value, bool):
            return value
        raise self.error(f"{key!r} should be {label}, not {_shown(value)}")

    def text(self, key: str) -> str | None:
        return self._get(key, (str,), "a string")  # type: ignore[no-any-return]

    def integer(self, key: str) -> int | None:
        return self._get(key, (int,), "an integer")  # type: ignore[no-any-return]

    def number(self, key: str) -> float | None:
        value = self._get(key, (int, float), "a number")
        return None if value is None else float(value)

    def array(self, key: str) -> list[Any]:
        return self._get(key, (list,), "a list") or []

    def objects(self, key: str) -> list[_Fields]:
        listed = self.array(key)
        return [_Fields(item, f"{self.where}: {key}[{i}]") for i, item in enumerate(listed)]

    def object(self, key: str) -> _Fields | None:
        value = self._get(key, (dict,), "an object")
        return None if value is None else _Fields(value, f"{self.where}: {key}")

    def choice(self, key: str, kind: type[Status] | type[JobStatus], default: str) -> Any:
        value = self.text(key) or default
        try:
            return kind(value)
        except ValueError:
            raise self.error(f"{key!r} is not a known status: {_shown(value)}") from None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_manifest_object(data: Mapping[str, Any]) -> Manifest:
    """The ``Manifest`` of a manifest file's object (see ``Manifest.from_json``)."""
    where = "the manifest"
    top = _Fields(data, where)
    about = top.data.get("campaign")
    campaign, description = about, None
    if isinstance(about, Mapping):  # a campaign named by an object carries its description
        named = _Fields(about, f"{where}: campaign")
        campaign, description = named.text("name"), named.text("description")
    elif about is not None:
        campaign = top.text("campaign")
    listed = top.array("jobs")
    jobs = tuple(_job(_Fields(job, _job_where(where, job))) for job in listed)
    sources = tuple(_source(source) for source in top.objects("sources"))
    totals = top.object("totals")
    return Manifest(
        str(campaign or ""),
        jobs,
        sources,
        _totals(totals) if totals else Totals(),
        description,
        top.text("currency"),
    )


def _job_where(where: str, job: object) -> str:
    name = job.get("name") if isinstance(job, Mapping) else None
    return f"job {name}" if isinstance(name, str) else f"{where}: a job without a name"


def _job(job: _Fields) -> JobEntry:
    name = job.text("name") or ""
    image, end = job.object("image"), job.object("end_image")
    settings = job.object("settings")
    matrix = job.object("matrix")
    take = job.integer("take")
    return JobEntry(
        name=name,
        fingerprint=job.text("fingerprint"),
        output=job.text("output") or name,
        image=_image(image) if image else None,
        end_image=_image(end) if end else None,
        prompt_name=job.text("prompt_name"),
        prompt=job.text("prompt"),
        settings=_settings(settings) if settings else Settings(),
        take=1 if take is None else take,
        status=job.choice("status", JobStatus, JobStatus.NEW),
        steps=tuple(_step(step) for step in job.objects("steps")),
        matrix=tuple(matrix.data.items()) if matrix else (),
        cost=job.number("cost"),
        versions=tuple(_version(version) for version in job.objects("versions")),
        retakes=tuple(_retake(retake, name) for retake in job.objects("retakes")),
        provider=job.text("provider") or "cometapi",
    )


def _retake(retake: _Fields, job: str) -> RetakeEntry:
    number = retake.integer("retake")
    return RetakeEntry(
        retake=number or 1,
        fingerprint=retake.text("fingerprint"),
        output=retake.text("output") or job,
        status=retake.choice("status", JobStatus, JobStatus.NEW),
        steps=tuple(_step(step) for step in retake.objects("steps")),
    )


def _image(image: _Fields) -> ImageEntry:
    return ImageEntry(
        image.text("name") or "?",
        image.text("kind") or "?",
        image.text("url"),
        image.text("sha256"),
        image.text("imagine"),
        image.integer("pick"),
    )


def _settings(settings: _Fields) -> Settings:
    known = {key: value for key, value in settings.data.items() if key in _SETTINGS}
    return Settings(**known)


def _step(step: _Fields) -> StepEntry:
    number, index = step.integer("step"), step.integer("index")
    return StepEntry(
        step=number or 0,
        fingerprint=step.text("fingerprint"),
        prompt=step.text("prompt"),
        motion=step.text("motion") or "",
        index=index or 0,
        status=step.choice("status", Status, Status.PENDING),
        task_id=step.text("task_id"),
        files=tuple(sorted((_file(f) for f in step.objects("files")), key=lambda f: f.index)),
    )


def _file(record: _Fields) -> FileEntry:
    extra = {key: value for key, value in record.data.items() if key not in _FILE_KEYS}
    return FileEntry(
        index=record.integer("index") or 0,
        name=record.text("name") or "",
        url=record.text("url") or "",
        sha256=record.text("sha256") or "",
        bytes=record.integer("bytes"),
        extra=extra,
    )


def _version(version: _Fields) -> VersionEntry:
    kept = tuple(
        KeptFile(f.text("name") or "", f.text("sha256") or "", f.integer("bytes"))
        for f in version.objects("files")
    )
    return VersionEntry(version.text("fingerprint") or "", version.integer("attempt"), kept)


def _source(source: _Fields) -> SourceEntry:
    return SourceEntry(
        fingerprint=source.text("fingerprint") or "",
        kind=source.text("kind") or "",
        image=source.text("image") or "",
        status=source.choice("status", Status, Status.PENDING),
        task_id=source.text("task_id"),
        image_url=source.text("image_url"),
        cost=source.number("cost") or 0.0,
    )


def _totals(totals: _Fields) -> Totals:
    spent_on = totals.object("spent_on")
    return Totals(
        jobs=totals.integer("jobs") or 0,
        done=totals.integer("done") or 0,
        files=totals.integer("files") or 0,
        bytes=totals.integer("bytes") or 0,
        spent=totals.number("spent") or 0.0,
        refunded=totals.number("refunded") or 0.0,
        possibly_charged=totals.number("possibly_charged") or 0.0,
        unpriced_submissions=totals.integer("unpriced_submissions") or 0,
        spent_on=SpentOn(
            spent_on.number("jobs") or 0.0,
            spent_on.number("sources") or 0.0,
            spent_on.number("earlier") or 0.0,
        )
        if spent_on
        else SpentOn(),
    )
