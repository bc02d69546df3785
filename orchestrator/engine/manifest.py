"""The output manifest: which prompt made which file; written deterministically, read to restore."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, overload

from orchestrator.engine.clips import clip_name, version_name
from orchestrator.engine.context import RunReport
from orchestrator.engine.downloads import file_digest
from orchestrator.engine.ledger import money_totals, source_entries, spent_on
from orchestrator.errors import MjvError
from orchestrator.graph import build_graph
from orchestrator.model import Campaign, ImageSource, Job, JobStatus, chain
from orchestrator.state import FileRecord, Money, Store, Submission

# (attempt, record, current): a file record a job's folder may keep under versions/
Candidate = tuple[int, FileRecord, bool]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


class ManifestError(MjvError):
    """The manifest file cannot be read (or written) as an mjv manifest."""


class OutputCollisionError(ManifestError):
    """The output folder's manifest belongs to another campaign."""


class ManifestNotWrittenError(ManifestError):
    """The run finished but its manifest could not be written; ``report`` is what it did."""

    def __init__(self, message: str, report: RunReport) -> None:
        super().__init__(message)
        self.report = report


def manifest_path(campaign: Campaign) -> Path:
    """Where the campaign's manifest lives."""
    return campaign.output_dir / MANIFEST_NAME


def build_manifest(campaign: Campaign, store: Store) -> dict[str, Any]:
    """Return the manifest of every job of ``campaign`` as the state file knows it.

    Its ``jobs`` are built one at a time as they are read (a ``Sequence``), so a manifest of
    tens of thousands of jobs is written without ever holding all their entries at once.
    """
    subs = {sub.key: sub for sub in store.submissions()}
    files = store.all_files()
    money = store.money()
    jobs = _Entries(campaign, subs, files, _candidates(store, subs, files), money)
    sources = source_entries(build_graph(campaign.jobs), subs, money)
    return {
        "manifest_version": MANIFEST_VERSION,
        "campaign": campaign.name,
        "jobs": jobs,
        "sources": sources,
        "totals": _totals(jobs) | money_totals(campaign, store.totals(), money, sources),
    }


class _Entries(Sequence[dict[str, Any]]):
    """The job entries of a manifest, sorted by name, each made when it is asked for."""

    def __init__(
        self,
        campaign: Campaign,
        subs: Mapping[str, Submission],
        files: Mapping[str, list[FileRecord]],
        kept: Mapping[str, list[Candidate]],
        money: Mapping[str, Money],
    ) -> None:
        self._campaign, self._subs, self._files = campaign, subs, files
        self._kept, self._money = kept, money
        self._jobs = sorted(campaign.jobs, key=lambda job: job.name)

    def __len__(self) -> int:
        return len(self._jobs)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._entry(job) for job in self._jobs[index]]
        return self._entry(self._jobs[index])

    def _entry(self, job: Job) -> dict[str, Any]:
        entry = _job_entry(self._campaign, job, self._subs, self._files)
        folder = self._campaign.output_dir / job.output_name
        versions = _versions(folder, job, self._kept.get(job.name, []))
        if versions:  # only then: manifests without versions keep their exact bytes
            entry["versions"] = versions
        entry["cost"] = spent_on(self._money, [step["fingerprint"] for step in entry["steps"]])
        return entry


def _candidates(
    store: Store, subs: Mapping[str, Submission], files: Mapping[str, list[FileRecord]]
) -> dict[str, list[Candidate]]:
    """Per job name: replaced file records, and current ones of keys the job may have left."""
    found: dict[str, list[Candidate]] = {}
    for version in store.file_versions():
        sub = subs.get(version.file.key)
        if sub is not None:
            found.setdefault(sub.job, []).append((version.attempt, version.file, False))
    for key, records in files.items():
        sub = subs.get(key)
        if sub is not None and sub.kind in ("video", "extend"):
            found.setdefault(sub.job, []).extend((sub.attempt, r, True) for r in records)
    return found


def _versions(folder: Path, job: Job, candidates: list[Candidate]) -> list[dict[str, Any]]:
    """The job's earlier clips kept on disk under versions/, grouped by fingerprint and attempt."""
    keys = {key for _, key, *_ in chain(job)}
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for attempt, record, current in candidates:
        name = version_name(record.key, attempt, record.name)
        if (current and record.key in keys) or not (folder / name).is_file():
            continue
        entry = {"name": name, "sha256": record.sha256, "bytes": record.size}
        groups.setdefault((record.key, attempt), []).append(entry)
    return [
        {"fingerprint": key, "attempt": attempt, "files": sorted(listed, key=lambda f: f["name"])}
        for (key, attempt), listed in sorted(groups.items(), key=lambda item: item[1][0]["name"])
    ]


def render_manifest(manifest: Mapping[str, Any]) -> str:
    """Canonical text: sorted keys, one job per line (readable diffs, and the fast C encoder)."""
    return "".join(_chunks(manifest))


def _chunks(manifest: Mapping[str, Any]) -> Iterator[str]:
    """The canonical text piece by piece: a head, then one line per job."""
    jobs = manifest.get("jobs", [])
    if not jobs:
        yield _dumps({**manifest, "jobs": []}) + "\n"
        return
    head = {key: value for key, value in manifest.items() if key != "jobs"}
    yield f'{_dumps(head)[:-1]}, "jobs": [\n'
    for number, job in enumerate(jobs):
        yield (",\n  " if number else "  ") + _dumps(job)
    yield "\n]}\n"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> bool:
    """Write ``manifest`` atomically, job by job; return False (file untouched) when unchanged."""
    # A name of its own: two runners of one campaign may write their snapshots at once.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = _stream(temp, manifest)
        old = file_digest(path) if path.exists() else None
        if old is not None and old.sha256 == digest:
            return False
        os.replace(temp, path)
    except OSError as exc:
        raise ManifestError(f"{path}: cannot write the manifest: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    return True


def save_manifest(campaign: Campaign, store: Store) -> ManifestError | None:
    """Write the campaign's manifest; return (not raise) why it could not be written."""
    try:
        write_manifest(manifest_path(campaign), build_manifest(campaign, store))
    except ManifestError as exc:
        return exc
    return None


def _stream(temp: Path, manifest: Mapping[str, Any]) -> str:
    """Write the canonical text to ``temp`` one job at a time; return its sha256."""
    digest = hashlib.sha256()
    with temp.open("xb") as handle:
        for chunk in _chunks(manifest):
            data = chunk.encode("utf-8")
            handle.write(data)
            digest.update(data)
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


def read_manifest(path: Path, campaign: str | None = None) -> dict[str, Any] | None:
    """Return the manifest at ``path``, None when there is none; ManifestError when unreadable.

    With ``campaign``, a manifest of another campaign is refused (OutputCollisionError).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # no output folder (yet): no manifest
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
        raise ManifestError(f"{path}: not an mjv manifest of version {MANIFEST_VERSION}")
    if campaign is not None and data.get("campaign") != campaign:
        raise OutputCollisionError(
            f"{path} belongs to campaign {data.get('campaign')!r}, not {campaign!r}: refusing "
            f"to write {campaign!r} into {path.parent} (nothing was submitted). Give each "
            "campaign its own output.dir, or move that folder aside."
        )
    return data


def restore_from_manifest(manifest: Mapping[str, Any], store: Store) -> int:
    """Adopt finished steps the manifest records and the state lacks; return how many."""
    adopted = 0
    for job in manifest.get("jobs", []):
        for step in job.get("steps", []):
            if _adopt(step, store):
                adopted += 1
    return adopted


def _adopt(step: Mapping[str, Any], store: Store) -> bool:
    key, task_id, listed = step.get("fingerprint"), step.get("task_id"), step.get("files")
    sub = store.get(str(key))
    if sub is None or sub.status != "pending" or sub.attempt or not task_id or not listed:
        return False
    records = [
        FileRecord(
            sub.key,
            int(f["index"]),
            str(f["name"]),
            str(f["url"]),
            str(f["sha256"]),
            int(f["bytes"]),
        )
        for f in listed
    ]
    store.adopt(sub.key, str(task_id), [r.url for r in records], None, records)
    return True


def _job_entry(
    campaign: Campaign,
    job: Job,
    subs: Mapping[str, Submission],
    files: Mapping[str, list[FileRecord]],
) -> dict[str, Any]:
    steps = [
        _step_entry(step, key, prompt, motion, index, subs.get(key), files.get(key, []))
        for step, key, prompt, motion, index in chain(job)
    ]
    return {
        "name": job.name,
        "fingerprint": job.fingerprint,
        "output": job.output_name,
        "image": _image(job.image),
        "end_image": _image(job.end_image) if job.end_image else None,
        "prompt_name": job.prompt_name,
        "prompt": job.prompt,
        "settings": asdict(job.settings),
        "take": job.take,
        "status": _job_status([step["status"] for step in steps]),
        "steps": steps,
        "matrix": dict(job.matrix),
    }


def _step_entry(
    step: int,
    key: str,
    prompt: str | None,
    motion: str,
    index: int,
    sub: Submission | None,
    records: list[FileRecord],
) -> dict[str, Any]:
    return {
        "step": step,
        "fingerprint": key,
        "prompt": prompt,
        "motion": motion,
        "index": index,
        "status": sub.status if sub else "pending",
        "task_id": sub.task_id if sub else None,
        "files": [
            {
                "index": r.index,
                "name": clip_name(step, r.index),
                "url": r.url,
                "sha256": r.sha256,
                "bytes": r.size,
            }
            for r in sorted(records, key=lambda r: r.index)
        ],
    }


def _image(image: ImageSource) -> dict[str, Any]:
    return {"name": image.name, "kind": image.kind, **image.identity()}


def _job_status(statuses: list[str]) -> str:
    if all(status == "downloaded" for status in statuses):
        return JobStatus.DONE
    if "failed" in statuses:
        return JobStatus.FAILED
    return JobStatus.NEW if all(s == "pending" for s in statuses) else JobStatus.INCOMPLETE


def _totals(jobs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    done = files = size = 0
    for job in jobs:  # one entry at a time: nothing kept
        done += job["status"] == JobStatus.DONE
        listed = [f for step in job["steps"] for f in step["files"]]
        files += len(listed)
        size += sum(int(f["bytes"]) for f in listed)
    return {"jobs": len(jobs), "done": done, "files": files, "bytes": size}
