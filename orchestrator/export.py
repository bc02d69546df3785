"""`mjv export`: the deliverables (approved final clips) copied out, with export.json and .csv.

Each job's final clip is the approved clip of the last step of its chain (with ``everything``:
every clip of the last step of every finished job). Sources are checked against the
manifest's sha256 and destinations against what is already there before anything is copied;
a different file is never overwritten, and an export with nothing new writes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.engine.downloads import file_digest
from orchestrator.errors import MjvError
from orchestrator.model import Campaign, JobStatus
from orchestrator.results import FileEntry, JobEntry, Manifest
from orchestrator.review.reviewfile import APPROVED, Review, Verdict
from orchestrator.spec.templates import Template, TemplateError

DEFAULT_NAME = "{{ job }}.mp4"
ALL_NAME = "{{ job }}-{{ clip }}.mp4"  # --all with the default name: several clips per job
COLUMNS = (
    "file",
    "job",
    "clip",
    "sha256",
    "prompts",
    "start_image",
    "settings",
    "cost",
    "verdict",
    "stars",
    "note",
)


class ExportError(MjvError):
    """The export cannot be made as asked; nothing was copied."""


@dataclass(frozen=True)
class Deliverable:
    """One file of the export and where it comes from."""

    file: str
    job: str
    clip: str  # <job folder>/<file> in the output folder
    sha256: str
    prompts: tuple[str, ...]
    start_image: str
    settings: Mapping[str, Any]
    cost: float | None
    verdict: str
    stars: int | None
    note: str | None
    source: Path = field(compare=False)


@dataclass(frozen=True)
class Exported:
    """What an export did: files copied, files already there, whether the listings changed."""

    copied: tuple[str, ...]
    unchanged: tuple[str, ...]
    listing_written: bool


def choose(
    campaign: Campaign, manifest: Manifest | None, review: Review, everything: bool
) -> tuple[list[Deliverable], list[tuple[str, str]]]:
    """The deliverables of ``campaign`` and the jobs left out (with why)."""
    template = _template(campaign, everything)
    jobs = {job.name: job for job in campaign.jobs}
    chosen: list[Deliverable] = []
    left_out: list[tuple[str, str]] = []
    for entry in manifest.jobs if manifest else ():
        if entry.name not in jobs:
            continue
        picked, why = _final_clips(entry, review, everything)
        if why:
            left_out.append((entry.name, why))
        variables = {**jobs[entry.name].variables, "campaign": campaign.name}
        chosen.extend(_deliverable(entry, f, v, template, variables, campaign) for f, v in picked)
    _check_unique(chosen)
    return chosen, left_out


def _template(campaign: Campaign, everything: bool) -> Template:
    source = campaign.export_name
    return Template(ALL_NAME if everything and source == DEFAULT_NAME else source)


def _final_clips(
    entry: JobEntry, review: Review, everything: bool
) -> tuple[list[tuple[FileEntry, Verdict | None]], str]:
    """The files of the last step to export with their verdicts, or why none is."""
    files = entry.steps[-1].files if entry.steps else ()
    judged = [(f, review.on(f"{entry.output}/{f.name}", f.sha256)) for f in files]
    if everything:
        done = entry.status == JobStatus.DONE
        return (judged, "") if done else ([], f"not finished ({entry.status})")
    approved = [(f, v) for f, v in judged if v is not None and v.verdict == APPROVED]
    if approved:  # one per step, as the review file allows
        return [approved[0]], ""
    last = len(entry.steps) - 1
    return [], f"no approved clip of its last step ({'base' if not last else f'extension {last}'})"


def _deliverable(
    entry: JobEntry,
    f: FileEntry,
    verdict: Verdict | None,
    template: Template,
    variables: Mapping[str, Any],
    campaign: Campaign,
) -> Deliverable:
    clip = f"{entry.output}/{f.name}"
    stars = verdict.stars if verdict else None
    context = {
        **variables,
        "job": entry.name,
        "image": entry.image.name if entry.image else "",
        "prompt": entry.prompt_name or "",
        "take": entry.take,
        "clip": f.name.removesuffix(".mp4"),
        "step": entry.steps[-1].step if entry.steps else 0,
        "stars": stars or 0,
    }
    return Deliverable(
        file=_file_name(template, context, entry.name),
        job=entry.name,
        clip=clip,
        sha256=f.sha256,
        prompts=tuple(s.prompt for s in entry.steps if s.prompt is not None),
        start_image=entry.image.name if entry.image else "",
        settings=asdict(entry.settings),
        cost=entry.cost,
        verdict=(verdict.verdict if verdict else None) or "unreviewed",
        stars=stars,
        note=verdict.note if verdict else None,
        source=campaign.output_dir / clip,
    )


def _file_name(template: Template, context: Mapping[str, Any], job: str) -> str:
    try:
        name = template.render(context)
    except TemplateError as exc:
        raise ExportError(f"export.name: {exc.message} in job {job!r}") from None
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise ExportError(f"export.name gives {name!r} for job {job!r}: not a plain file name")
    if name in ("export.json", "export.csv"):
        raise ExportError(f"export.name gives {name!r} for job {job!r}: that name is taken")
    return name


def _check_unique(chosen: Sequence[Deliverable]) -> None:
    seen: dict[str, str] = {}
    for item in chosen:
        other = seen.setdefault(item.file, item.clip)
        if other != item.clip:
            raise ExportError(
                f"export.name gives {item.file!r} to both {other} and {item.clip}; "
                "add {{ clip }} or {{ take }} to it"
            )


def export(chosen: Sequence[Deliverable], folder: Path) -> Exported:
    """Copy ``chosen`` into ``folder`` and write its listings; checks everything first."""
    copies = [item for item in chosen if not _already_there(item, folder)]
    for item in copies:
        _check_source(item)
    copied = []
    for item in copies:
        _copy(item.source, folder / item.file)
        copied.append(item.file)
    unchanged = tuple(item.file for item in chosen if item.file not in copied)
    listed = _write_if_changed(folder / "export.json", _json(chosen))
    listed = _write_if_changed(folder / "export.csv", _csv(chosen)) or listed
    return Exported(tuple(copied), unchanged, listed)


def _already_there(item: Deliverable, folder: Path) -> bool:
    dest = folder / item.file
    if not dest.exists():
        return False
    found = file_digest(dest)
    if found is None or found.sha256 != item.sha256:
        raise ExportError(
            f"{dest} exists and is not {item.clip} (sha256 differs): refusing to overwrite it; "
            "move it away or export into another folder"
        )
    return True


def _check_source(item: Deliverable) -> None:
    found = file_digest(item.source)
    if found is None:
        raise ExportError(f"{item.source}: missing; `mjv run` downloads it again")
    if found.sha256 != item.sha256:
        raise ExportError(
            f"{item.source}: its sha256 is not the manifest's (the file was altered); "
            "`mjv run` restores it"
        )


def _copy(source: Path, dest: Path) -> None:
    temp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, temp)
        os.replace(temp, dest)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ExportError(f"{dest}: cannot copy {source}: {exc.strerror}") from None


def _rows(chosen: Sequence[Deliverable]) -> Iterator[dict[str, Any]]:
    for item in sorted(chosen, key=lambda d: d.file):
        row = asdict(item)
        del row["source"]
        yield row


def _json(chosen: Sequence[Deliverable]) -> str:
    rows = list(_rows(chosen))
    return json.dumps({"files": rows}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _csv(chosen: Sequence[Deliverable]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _rows(chosen):
        row["prompts"] = " | ".join(row["prompts"])
        row["settings"] = json.dumps(row["settings"], sort_keys=True)
        writer.writerow({key: "" if row[key] is None else row[key] for key in COLUMNS})
    return text.getvalue()


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return False
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write: {exc.strerror}") from None
    return True
