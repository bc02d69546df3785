"""Turns a campaign and its manifest into the report's view: pure, no I/O."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote

from orchestrator.errors import ManifestError, ReportError
from orchestrator.model import Campaign, ImageSource, Job, JobStatus
from orchestrator.money import shown
from orchestrator.qc.report import clip_qc
from orchestrator.report.entries import manifest_entries
from orchestrator.report.verdict import waiting_steps
from orchestrator.report.view import Card, ClipView, ImageView, Page, StepView, VersionView
from orchestrator.results import (
    FileEntry,
    ImageEntry,
    JobEntry,
    Manifest,
    StepEntry,
    VersionEntry,
    settings_dict,
)
from orchestrator.review.reviewfile import Review

__all__ = ["ReportError", "build_card", "build_page", "href"]


def build_page(
    campaign: Campaign,
    manifest: Manifest | Mapping[str, Any] | None,
    review: Review | None = None,
) -> Page:
    """The report of ``campaign``: one card per job, manifest first, the spec for the rest.

    ``manifest`` may also be a manifest's JSON object (read here). Cards are made as they are
    read (``_Cards``); one pass here gathers what the page's head needs (totals, filter
    values), and rendering makes them again one at a time.
    """
    if manifest is not None and not isinstance(manifest, Manifest):
        try:
            manifest = Manifest.from_json(manifest)
        except ManifestError as exc:
            raise ReportError(str(exc)) from exc
    cards = _Cards(manifest_entries(campaign, manifest), campaign, review or Review())
    axes, totals, choices = _summary(cards, campaign.currency)
    description = (manifest.description if manifest else None) or campaign.description or ""
    return Page(campaign.name, description, cards, axes, totals, choices)


class _Cards(Sequence[Card]):
    """The cards of a report, each built from its manifest entry when it is asked for."""

    def __init__(self, entries: Sequence[JobEntry], campaign: Campaign, review: Review) -> None:
        self._entries, self._review = entries, review
        self._jobs = {job.name: job for job in campaign.jobs}
        self._folder = campaign.output_dir
        self._currency = campaign.currency

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

    def _card(self, entry: JobEntry) -> Card:
        job = self._jobs.get(entry.name)
        return build_card(entry, job, self._folder, self._review, self._currency)


def _summary(
    cards: Sequence[Card], currency: str
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """Matrix axes, totals and each filter's values, in one pass over the cards."""
    axes: dict[str, set[str]] = {}
    having: dict[str, int] = {}  # cards with a value on each axis (the others show as "")
    values: dict[str, set[str]] = {"status": set(), "image": set(), "prompt": set()}
    count = done = clips = size = 0
    verdicts = {"approved": 0, "rejected": 0, "unreviewed": 0}
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
            for clip in step.clips:
                verdicts[clip.verdict or "unreviewed"] += 1
        if card.status == JobStatus.DONE:
            done += 1
            costs.append(card.cost)
    spent = shown(None if None in costs else sum(c or 0.0 for c in costs), currency)
    totals = (
        ("jobs", str(count)),
        ("done", str(done)),
        ("clips", str(clips)),
        ("size", f"{size / 1_000_000:.1f} MB"),
        ("cost of done jobs", spent),
        *((name, str(n)) for name, n in verdicts.items()),
    )
    choices = [(key, tuple(sorted(found))) for key, found in values.items()]
    for i, (axis, found) in enumerate(axes.items()):
        everyone = having[axis] == count
        choices.append((f"m{i}", tuple(sorted(found if everyone else found | {""}))))
    return tuple(axes), totals, tuple(choices)


def build_card(
    entry: JobEntry,
    job: Job | None,
    report_dir: Path,
    review: Review | None = None,
    currency: str = "",
) -> Card:
    """One job's card from its manifest entry, with the spec's ``job`` filling the gaps."""
    matrix = _matrix(entry.matrix, job)
    last = len(entry.steps) - 1
    end_source = job.end_image if job else None
    return Card(
        name=entry.name,
        status=entry.status,
        take=entry.take,
        cost=entry.cost,
        currency=currency,
        prompt_name=entry.prompt_name,
        prompt=entry.prompt,
        image=_image(entry.image, job.image if job else None, report_dir),
        end_image=_image(entry.end_image, end_source, report_dir) if entry.end_image else None,
        settings=tuple(
            (name, _text(value)) for name, value in settings_dict(entry.settings).items()
        ),
        matrix=matrix,
        steps=tuple(
            _step(step, entry.output, review or Review(), last=i == last)
            for i, step in enumerate(entry.steps)
        )
        + waiting_steps(job),
        versions=tuple(_version(version, entry.output) for version in entry.versions),
        group=_group(entry, matrix),
    )


def _thumb(entry: Mapping[str, Any], output: str, which: int) -> str | None:
    """The poster (0) or strip (1) of a file entry, linked relative to report.html."""
    thumbs = entry.get("thumbs")
    if not isinstance(thumbs, list) or len(thumbs) <= which:
        return None
    return href(output, str(thumbs[which]))


def href(*parts: str) -> str:
    """A relative URL from path parts (each already relative, '/'-separated)."""
    return quote("/".join(part.strip("/") for part in parts if part))


def _image(entry: ImageEntry | None, source: ImageSource | None, report_dir: Path) -> ImageView:
    name = entry.name if entry else source.name if source else "?"
    kind = entry.kind if entry else source.kind if source else "?"
    link = None
    if kind == "file" and source is not None and source.path is not None:
        link = quote(Path(os.path.relpath(source.path, report_dir)).as_posix())
    return ImageView(name, kind, link, _source_text(entry, source))


def _source_text(entry: ImageEntry | None, source: ImageSource | None) -> str:
    if entry is not None and entry.url:
        return entry.url
    if entry is not None and entry.imagine:
        return f"imagine: {entry.imagine} (picture {entry.pick})"
    if source is not None and source.path is not None:
        return f"file: {source.path.name}"
    return f"file sha256 {(entry.sha256 if entry and entry.sha256 else '')[:12]}"


def _step(entry: StepEntry, output: str, review: Review, *, last: bool) -> StepView:
    clips = tuple(_clip(f, output, review, last) for f in entry.files)
    return StepView(entry.step, entry.prompt, entry.motion, entry.index, entry.status, clips)


def _clip(entry: FileEntry, output: str, review: Review, last: bool) -> ClipView:
    path, link = f"{output}/{entry.name}", href(output, entry.name)
    verdict = review.on(path, entry.sha256)
    poster, qc = _thumb(entry.extra, output, 0), clip_qc(entry.extra)
    strip = _thumb(entry.extra, output, 1)
    if verdict is None:
        return ClipView(
            entry.index,
            link,
            entry.bytes,
            last,
            path,
            entry.sha256,
            poster=poster,
            qc=qc,
            strip=strip,
        )
    return ClipView(
        entry.index,
        link,
        entry.bytes,
        last,
        path,
        entry.sha256,
        verdict.verdict,
        verdict.stars,
        verdict.note,
        poster=poster,
        qc=qc,
        strip=strip,
    )


def _version(entry: VersionEntry, output: str) -> VersionView:
    links = tuple((f.name, href(output, f.name)) for f in entry.files)
    return VersionView(entry.fingerprint, entry.attempt, links)


def _matrix(matrix: tuple[tuple[str, Any], ...], job: Job | None) -> tuple[tuple[str, str], ...]:
    if matrix:
        return tuple((str(axis), _text(value)) for axis, value in matrix)
    return tuple((axis, _text(value)) for axis, value in job.matrix) if job else ()


def _group(entry: JobEntry, matrix: Sequence[tuple[str, str]]) -> str:
    """Equal for jobs that differ only by take (and so by name and fingerprints)."""
    image = entry.image.to_json() if entry.image else {}
    end = entry.end_image.to_json() if entry.end_image else {}
    steps = [(s.prompt, s.motion, s.index) for s in entry.steps]
    same = [image, end, entry.prompt_name, settings_dict(entry.settings), list(matrix), steps]
    text = json.dumps(same, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
