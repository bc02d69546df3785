"""Turns a campaign and its manifest into the report's view: pure, no I/O."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote

from orchestrator.errors import MjvError
from orchestrator.model import Campaign, ImageSource, Job, JobStatus
from orchestrator.report.entries import manifest_entries
from orchestrator.report.view import Card, ClipView, ImageView, Page, StepView, VersionView


class ReportError(MjvError):
    """The report cannot be built from its data or written."""


def build_page(campaign: Campaign, manifest: dict[str, Any] | None) -> Page:
    """The report of ``campaign``: one card per job, manifest first, the spec for the rest.

    Cards are made as they are read (``_Cards``); one pass here gathers what the page's head
    needs (totals, filter values), and rendering makes them again one at a time.
    """
    cards = _Cards(manifest_entries(campaign, manifest), campaign)
    axes, totals, choices = _summary(cards)
    about = (manifest or {}).get("campaign")  # a name, or (newer manifests) an object
    about = about if isinstance(about, Mapping) else {}
    description = str(about.get("description") or campaign.description or "")
    return Page(campaign.name, description, cards, axes, totals, choices)


class _Cards(Sequence[Card]):
    """The cards of a report, each built from its manifest entry when it is asked for."""

    def __init__(self, entries: Sequence[Mapping[str, Any]], campaign: Campaign) -> None:
        self._entries = entries
        self._jobs = {job.name: job for job in campaign.jobs}
        self._folder = campaign.output_dir

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> Card: ...

    @overload
    def __getitem__(self, index: slice) -> list[Card]: ...

    def __getitem__(self, index: int | slice) -> Card | list[Card]:
        if isinstance(index, slice):
            return [self._card(entry) for entry in self._entries[index]]
        return self._card(self._entries[index])

    def _card(self, entry: Mapping[str, Any]) -> Card:
        return _checked_card(entry, self._jobs.get(str(entry.get("name"))), self._folder)


def _summary(
    cards: Sequence[Card],
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """Matrix axes, totals and each filter's values, in one pass over the cards."""
    axes: dict[str, set[str]] = {}
    having: dict[str, int] = {}  # cards with a value on each axis (the others show as "")
    values: dict[str, set[str]] = {"status": set(), "image": set(), "prompt": set()}
    count = done = clips = size = 0
    costs: list[float | None] = []
    for card in cards:
        count += 1
        values["status"].add(card.status)
        values["image"].add(card.image.name)
        values["prompt"].add(card.prompt_name or "")
        for axis, value in card.matrix:
            axes.setdefault(axis, set()).add(value)
            having[axis] = having.get(axis, 0) + 1
        for step in card.steps:
            clips += len(step.clips)
            size += sum(clip.size or 0 for clip in step.clips)
        if card.status == "done":
            done += 1
            costs.append(card.cost)
    spent = "unknown" if None in costs else f"{sum(c or 0.0 for c in costs):.2f}"
    totals = (
        ("jobs", str(count)),
        ("done", str(done)),
        ("clips", str(clips)),
        ("size", f"{size / 1_000_000:.1f} MB"),
        ("cost of done jobs", spent),
    )
    choices = [(key, tuple(sorted(found))) for key, found in values.items()]
    for i, (axis, found) in enumerate(axes.items()):
        everyone = having[axis] == count
        choices.append((f"m{i}", tuple(sorted(found if everyone else found | {""}))))
    return tuple(axes), totals, tuple(choices)


def _checked_card(entry: Mapping[str, Any], job: Job | None, report_dir: Path) -> Card:
    try:
        return build_card(entry, job, report_dir)
    except (TypeError, ValueError, AttributeError) as exc:  # a hand-edited manifest
        raise ReportError(f"job {entry.get('name')}: unexpected manifest content: {exc}") from exc


def build_card(entry: Mapping[str, Any], job: Job | None, report_dir: Path) -> Card:
    """One job's card from its manifest entry, with the spec's ``job`` filling the gaps."""
    output = str(entry.get("output") or entry.get("name"))
    steps = [s for s in entry.get("steps") or [] if isinstance(s, Mapping)]
    matrix = _matrix(entry.get("matrix"), job)
    image = _image(entry.get("image"), job.image if job else None, report_dir)
    end = entry.get("end_image")
    end_source = job.end_image if job else None
    return Card(
        name=str(entry.get("name")),
        status=str(entry.get("status") or JobStatus.NEW),
        take=int(entry.get("take") or 1),
        cost=_number(entry.get("cost")),
        prompt_name=_optional(entry.get("prompt_name")),
        prompt=_optional(entry.get("prompt")),
        image=image,
        end_image=_image(end, end_source, report_dir) if end else None,
        settings=tuple((str(k), _text(v)) for k, v in (entry.get("settings") or {}).items()),
        matrix=matrix,
        steps=tuple(_step(s, output, last=i == len(steps) - 1) for i, s in enumerate(steps)),
        versions=tuple(_version(v, output) for v in entry.get("versions") or []),
        group=_group(entry, matrix),
    )


def href(*parts: str) -> str:
    """A relative URL from path parts (each already relative, '/'-separated)."""
    return quote("/".join(part.strip("/") for part in parts if part))


def _image(
    entry: Mapping[str, Any] | None, source: ImageSource | None, report_dir: Path
) -> ImageView:
    entry = entry or {}
    name = str(entry.get("name") or (source.name if source else "?"))
    kind = str(entry.get("kind") or (source.kind if source else "?"))
    link = None
    if kind == "file" and source is not None and source.path is not None:
        link = quote(Path(os.path.relpath(source.path, report_dir)).as_posix())
    return ImageView(name, kind, link, _source_text(entry, source))


def _source_text(entry: Mapping[str, Any], source: ImageSource | None) -> str:
    if entry.get("url"):
        return str(entry["url"])
    if entry.get("imagine"):
        return f"imagine: {entry['imagine']} (picture {entry.get('pick')})"
    if source is not None and source.path is not None:
        return f"file: {source.path.name}"
    return f"file sha256 {str(entry.get('sha256', ''))[:12]}"


def _step(entry: Mapping[str, Any], output: str, *, last: bool) -> StepView:
    step = int(entry.get("step") or 0)
    files = [f for f in entry.get("files") or [] if isinstance(f, Mapping)]
    clips = tuple(
        ClipView(int(f.get("index") or 0), href(output, str(f.get("name"))), _size(f), last)
        for f in sorted(files, key=lambda f: int(f.get("index") or 0))
    )
    return StepView(
        step=step,
        prompt=_optional(entry.get("prompt")),
        motion=str(entry.get("motion") or ""),
        extends=int(entry.get("index") or 0),
        status=str(entry.get("status") or JobStatus.NEW),
        clips=clips,
    )


def _version(entry: Mapping[str, Any], output: str) -> VersionView:
    files = [f for f in entry.get("files") or [] if isinstance(f, Mapping)]
    links = tuple((str(f.get("name")), href(output, str(f.get("name")))) for f in files)
    attempt = entry.get("attempt")
    attempt = attempt if isinstance(attempt, int) else None
    return VersionView(str(entry.get("fingerprint") or ""), attempt, links)


def _matrix(value: Any, job: Job | None) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        return tuple((str(axis), _text(v)) for axis, v in value.items())
    return tuple((axis, _text(v)) for axis, v in job.matrix) if job else ()


def _group(entry: Mapping[str, Any], matrix: Sequence[tuple[str, str]]) -> str:
    """Equal for jobs that differ only by take (and so by name and fingerprints)."""
    image, end = entry.get("image") or {}, entry.get("end_image") or {}
    steps = [(s.get("prompt"), s.get("motion"), s.get("index")) for s in entry.get("steps") or []]
    same = [image, end, entry.get("prompt_name"), entry.get("settings"), list(matrix), steps]
    text = json.dumps(same, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _size(entry: Mapping[str, Any]) -> int | None:
    value = entry.get("bytes")
    return value if isinstance(value, int) else None
