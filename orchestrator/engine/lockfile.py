"""The committed manifest as a lock file: what ran, read back as state records (no state file).

In CI there is no state file, only the `manifest.json` committed with the spec. Read as
records, it lets `mjv plan` classify a pull request's jobs exactly as against the state: an
unchanged job is done, an edited one is changed (and why), so the plan prices only the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.graph import describe
from orchestrator.state import FileRecord, Submission

_IDENTITY = ("url", "sha256", "imagine", "pick")
_FINISHED = ("succeeded", "downloaded")


def records_from_manifest(
    manifest: Mapping[str, Any],
) -> tuple[dict[str, Submission], dict[str, list[Submission]], dict[str, list[FileRecord]]]:
    """Submissions by key, each job's submissions by job name, and file records by key.

    Jobs with identical requests share a submission; the history by name keeps each job's own.
    """
    subs: dict[str, Submission] = {}
    history: dict[str, list[Submission]] = {}
    files: dict[str, list[FileRecord]] = {}
    for job in manifest.get("jobs", []):
        if not isinstance(job, Mapping):
            continue
        for step in job.get("steps", []):
            sub = _submission(job, step)
            if sub is not None:
                subs[sub.key] = sub
                files[sub.key] = _files(sub.key, step)
                if sub.attempt:
                    history.setdefault(sub.job, []).append(sub)
    return subs, history, files


def _submission(job: Mapping[str, Any], step: Mapping[str, Any]) -> Submission | None:
    key, number = step.get("fingerprint"), step.get("step")
    if not isinstance(key, str) or not isinstance(number, int):
        return None
    status = str(step.get("status") or "pending")
    started = status != "pending" or bool(step.get("task_id"))
    return Submission(
        key=key,
        job=str(job.get("name")),
        kind="video" if number == 0 else "extend",
        step=number,
        parent=None,
        status=status,
        attempt=1 if started else 0,
        task_id=step.get("task_id"),
        failure=None,
        reason=None,
        clip_urls=tuple(str(f.get("url")) for f in step.get("files", [])),
        image_url=None,
        lease_owner=None,
        lease_until=None,
        updated_at=0.0,
        request=_request(job, step),
    )


def _request(job: Mapping[str, Any], step: Mapping[str, Any]) -> str:
    """The request description the graph makes for the same step (see graph.job_request)."""
    if step.get("step") != 0:
        return describe({k: step.get(k) for k in ("prompt", "motion", "index")})
    end = job.get("end_image")
    return describe(
        {
            "image": _identity(job.get("image")),
            "end_image": _identity(end) if end else None,
            "prompt": job.get("prompt"),
            "settings": job.get("settings"),
            "take": job.get("take"),
        }
    )


def _identity(image: Any) -> dict[str, Any]:
    data = image if isinstance(image, Mapping) else {}
    return {key: data[key] for key in _IDENTITY if key in data}


def _files(key: str, step: Mapping[str, Any]) -> list[FileRecord]:
    return [
        FileRecord(
            key, int(f["index"]), str(f["name"]), str(f["url"]), str(f["sha256"]), int(f["bytes"])
        )
        for f in step.get("files", [])
        if isinstance(f, Mapping) and {"index", "name", "url", "sha256", "bytes"} <= f.keys()
    ]


def finished_keys(subs: Mapping[str, Submission]) -> set[str]:
    """Keys a run would not send again."""
    return {key for key, sub in subs.items() if sub.status in _FINISHED}
