"""Turns a campaign and its manifest into the report's view: pure, no I/O."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from orchestrator.errors import MjvError
from orchestrator.model import Campaign, ImageSource, Job
from orchestrator.report.entries import manifest_entries
from orchestrator.report.view import Card, ClipView, ImageView, Page, StepView, VersionView


class ReportError(MjvError):
    """The report cannot be built from its data or written."""


def build_page(campaign: Campaign, manifest: dict[str, Any] | None) -> Page:
    """The report of ``campaign``: one card per job, manifest first, the spec for the rest."""
    jobs = {job.name: job for job in campaign.jobs}
    cards = tuple(
        _checked_card(entry, jobs.get(str(entry.get("name"))), campaign.output_dir)
        for entry in manifest_entries(campaign, manifest)
    )
    axes = tuple(dict.fromkeys(axis for card in cards for axis, _ in card.matrix))
    about = (manifest or {}).get("campaign")  # a name, or (newer manifests) an object
    about = about if isinstance(about, Mapping) else {}
    description = str(about.get("description") or campaign.description or "")
    return Page(campaign.name, description, cards, axes, _totals(cards))


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
        status=str(entry.get("status") or "pending"),
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
        status=str(entry.get("status") or "pending"),
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


def _totals(cards: Sequence[Card]) -> tuple[tuple[str, str], ...]:
    clips = [clip for card in cards for step in card.steps for clip in step.clips]
    done = [card for card in cards if card.status == "done"]
    costs = [card.cost for card in done]
    spent = "unknown" if None in costs else f"{sum(c or 0.0 for c in costs):.2f}"
    size = sum(clip.size or 0 for clip in clips)
    return (
        ("jobs", str(len(cards))),
        ("done", str(len(done))),
        ("clips", str(len(clips))),
        ("size", f"{size / 1_000_000:.1f} MB"),
        ("cost of done jobs", spent),
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _size(entry: Mapping[str, Any]) -> int | None:
    value = entry.get("bytes")
    return value if isinstance(value, int) else None
