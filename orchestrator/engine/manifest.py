"""The output manifest: which prompt made which file; written deterministically, read to restore."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from orchestrator.engine.clips import clip_name
from orchestrator.errors import MjvError
from orchestrator.model import Campaign, ImageSource, Job, chain
from orchestrator.state import FileRecord, Store, Submission

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


class ManifestError(MjvError):
    """The manifest file cannot be read as an mjv manifest."""


def manifest_path(campaign: Campaign) -> Path:
    """Where the campaign's manifest lives."""
    return campaign.output_dir / MANIFEST_NAME


def build_manifest(campaign: Campaign, store: Store) -> dict[str, Any]:
    """Return the manifest of every job of ``campaign`` as the state file knows it."""
    subs = {sub.key: sub for sub in store.submissions()}
    files = store.all_files()
    jobs = [_job_entry(campaign, job, subs, files) for job in campaign.jobs]
    jobs.sort(key=lambda entry: str(entry["name"]))
    return {
        "manifest_version": MANIFEST_VERSION,
        "campaign": campaign.name,
        "jobs": jobs,
        "totals": _totals(jobs),
    }


def render_manifest(manifest: Mapping[str, Any]) -> str:
    """Canonical text: sorted keys, one job per line (readable diffs, and the fast C encoder)."""
    head = {key: value for key, value in manifest.items() if key != "jobs"}
    lines = [_dumps(job) for job in manifest.get("jobs", [])]
    body = ",\n".join(f"  {line}" for line in lines)
    return f'{_dumps(head)[:-1]}, "jobs": [\n{body}\n]}}\n' if lines else _dumps(manifest) + "\n"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> bool:
    """Write ``manifest`` atomically; return False (touching nothing) when it is unchanged."""
    text = render_manifest(manifest)
    try:
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return False
        _replace(path, text)
    except OSError as exc:
        raise ManifestError(f"{path}: cannot write the manifest: {exc}") from exc
    return True


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own: two runners of one campaign may write their snapshots at once.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    with temp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """Return the manifest at ``path``, None when there is none; ManifestError when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
        raise ManifestError(f"{path}: not an mjv manifest of version {MANIFEST_VERSION}")
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
    price = campaign.price(job.settings.mode)
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
        "cost": None if price is None else round(price * len(steps), 6),
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
        return "done"
    if "failed" in statuses:
        return "failed"
    return "pending" if all(s == "pending" for s in statuses) else "incomplete"


def _totals(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    files = [f for job in jobs for step in job["steps"] for f in step["files"]]
    costs = [job["cost"] for job in jobs if job["status"] == "done"]
    return {
        "jobs": len(jobs),
        "done": sum(1 for job in jobs if job["status"] == "done"),
        "files": len(files),
        "bytes": sum(int(f["bytes"]) for f in files),
        "cost": None if any(c is None for c in costs) else round(sum(costs), 6),
    }
