"""The clip checks in the manifest: a ``qc`` object (and the pictures) under each file, and
the retakes of each job."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from orchestrator.qc.rules import QcResult
from orchestrator.results import FileEntry, JobEntry, RetakeEntry, StepEntry
from orchestrator.state import QcRecord

Checks = Mapping[tuple[str, int], QcRecord]


def with_checks(
    entry: JobEntry, checks: Checks, retakes: Iterable[tuple[int, JobEntry]] = ()
) -> JobEntry:
    """``entry`` with each file's check, as it was checked, and its (numbered) retakes."""
    taken = tuple(
        RetakeEntry(n, r.fingerprint, r.output, r.status, _steps(r.steps, checks))
        for n, r in retakes
    )
    return replace(entry, steps=_steps(entry.steps, checks), retakes=taken)


def _steps(steps: tuple[StepEntry, ...], checks: Checks) -> tuple[StepEntry, ...]:
    return tuple(
        replace(step, files=tuple(_file(step.fingerprint or "", f, checks) for f in step.files))
        for step in steps
    )


def _file(key: str, listed: FileEntry, checks: Checks) -> FileEntry:
    found = checks.get((key, listed.index))
    if found is None or found.sha256 != listed.sha256:
        return listed
    result = QcResult.from_json(found.result)
    extra = {**listed.extra, "qc": result.entry()}
    if result.thumbs:
        extra["thumbs"] = list(result.thumbs)
    return replace(listed, extra=extra)


def file_check(listed: FileEntry) -> QcResult | None:
    """The check a manifest file entry carries, None when it has none."""
    found = listed.extra.get("qc")
    if not isinstance(found, Mapping):
        return None
    scores = found.get("scores")
    thumbs = listed.extra.get("thumbs")
    return QcResult(
        bool(found.get("passed")),
        tuple(str(r) for r in found.get("reasons") or ()),
        dict(scores) if isinstance(scores, Mapping) else {},
        tuple(str(t) for t in thumbs) if isinstance(thumbs, list) else (),
    )
