"""The output manifest: which prompt made which file; written deterministically, read to restore.

The manifest is built as ``results.Manifest`` (typed entries, made one job at a time) and
written as its canonical JSON; readers get it back through ``read_results``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, overload

from orchestrator.atomic import replace_file
from orchestrator.engine.clips import clip_name, version_name
from orchestrator.engine.ledger import (
    money_totals,
    source_entries,
    spent_on,
    unpriced_submissions,
)
from orchestrator.errors import ManifestError, ManifestNotWrittenError, OutputCollisionError
from orchestrator.graph import build_graph
from orchestrator.model import Campaign, ChainStep, Job, JobStatus, chain
from orchestrator.qc.manifest import with_checks
from orchestrator.qc.takes import retake_of
from orchestrator.results import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    FileEntry,
    ImageEntry,
    JobEntry,
    KeptFile,
    Manifest,
    StepEntry,
    VersionEntry,
)
from orchestrator.state import FileRecord, Money, QcRecord, Reads, Status, Store, Submission

# (attempt, record, current): a file record a job's folder may keep under versions/
Candidate = tuple[int, FileRecord, bool]

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "ManifestError",
    "ManifestNotWrittenError",
    "OutputCollisionError",
    "build_manifest",
    "job_entry",
    "manifest_path",
    "read_manifest",
    "read_results",
    "render_manifest",
    "restore_from_manifest",
    "save_manifest",
    "write_manifest",
]


def manifest_path(campaign: Campaign) -> Path:
    """Where the campaign's manifest lives."""
    return campaign.output_dir / MANIFEST_NAME


def build_manifest(campaign: Campaign, store: Reads) -> Manifest:
    """Return the manifest of every job of ``campaign`` as the state file knows it.

    Its ``jobs`` are built one at a time as they are read (a ``Sequence``), so a manifest of
    tens of thousands of jobs is written without ever holding all their entries at once.
    """
    subs = {sub.key: sub for sub in store.submissions()}
    files = store.all_files()
    money = store.money()
    jobs = _Entries(campaign, subs, files, _candidates(store, subs, files), money)
    jobs.qc = store.qc_results()
    graph = build_graph(campaign.jobs)
    sources = source_entries(graph, subs, money)
    number, done, count, size = _counts(jobs.plain())
    totals = money_totals(campaign, store.totals(), money, sources, _answers(campaign, subs))
    unpriced = unpriced_submissions(campaign, graph, store)
    totals = replace(
        totals, jobs=number, done=done, files=count, bytes=size, unpriced_submissions=unpriced
    )
    return Manifest(campaign.name, jobs, tuple(sources), totals, currency=campaign.currency)


def _answers(campaign: Campaign, subs: Mapping[str, Submission]) -> list[str]:
    """Keys of the modal answers given to the current jobs' tasks (part of their spending)."""
    chains = {step.fingerprint for job in campaign.jobs for step in chain(job)}
    return [s.key for s in subs.values() if s.kind == "modal" and s.parent in chains]


class _Entries(Sequence[JobEntry]):
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
        self.qc: Mapping[tuple[str, int], QcRecord] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    @overload
    def __getitem__(self, index: int) -> JobEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[JobEntry]: ...

    def __getitem__(self, index: int | slice) -> JobEntry | list[JobEntry]:
        if isinstance(index, slice):
            return [self._entry(job) for job in self._jobs[index]]
        return self._entry(self._jobs[index])

    def plain(self) -> Iterator[JobEntry]:
        """Each entry without its cost, kept versions and checks, which the totals do not
        count: half the work of a whole entry (the totals are made before the entries are
        written, so each job's entry is made twice)."""
        return (job_entry(job, self._subs, self._files, None) for job in self._jobs)

    def _entry(self, job: Job) -> JobEntry:
        folder = self._campaign.output_dir / job.output_name
        versions = _versions(folder, job, self._kept.get(job.name, []))
        cost = spent_on(self._money, [step.fingerprint for step in chain(job)])
        entry = job_entry(job, self._subs, self._files, cost, versions)
        if not self.qc:
            return entry
        takes = (retake_of(job, n) for n in range(1, job.qc.retakes + 1))
        retakes = [
            (take.retake, job_entry(take, self._subs, self._files, None))
            for take in takes
            if take.fingerprint in self._subs
        ]
        return with_checks(entry, self.qc, retakes)


def _candidates(
    store: Reads, subs: Mapping[str, Submission], files: Mapping[str, list[FileRecord]]
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


def _versions(folder: Path, job: Job, candidates: list[Candidate]) -> tuple[VersionEntry, ...]:
    """The job's earlier clips kept on disk under versions/, grouped by fingerprint and attempt."""
    keys = {step.fingerprint for step in chain(job)}
    groups: dict[tuple[str, int], list[KeptFile]] = {}
    for attempt, record, current in candidates:
        name = version_name(record.key, attempt, record.name)
        if (current and record.key in keys) or not (folder / name).is_file():
            continue
        groups.setdefault((record.key, attempt), []).append(
            KeptFile(name, record.sha256, record.size)
        )
    return tuple(
        VersionEntry(key, attempt, tuple(sorted(listed, key=lambda f: f.name)))
        for (key, attempt), listed in sorted(groups.items(), key=lambda item: item[1][0].name)
    )


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


def write_manifest(path: Path, manifest: Manifest | Mapping[str, Any]) -> bool:
    """Write ``manifest`` atomically, job by job; return False (file untouched) when unchanged."""
    data = manifest.to_json() if isinstance(manifest, Manifest) else manifest
    try:
        return replace_file(path, (c.encode("utf-8") for c in _chunks(data)), keep_if_same=True)
    except OSError as exc:
        raise ManifestError(f"{path}: cannot write the manifest: {exc}") from exc


def save_manifest(campaign: Campaign, store: Reads) -> ManifestError | None:
    """Write the campaign's manifest; return (not raise) why it could not be written."""
    try:
        write_manifest(manifest_path(campaign), build_manifest(campaign, store))
    except ManifestError as exc:
        return exc
    return None


def read_manifest(path: Path, campaign: str | None = None) -> dict[str, Any] | None:
    """Return the manifest's JSON at ``path``, None when there is none; ManifestError when
    unreadable. With ``campaign``, a manifest of another campaign is refused
    (OutputCollisionError)."""
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


def read_results(path: Path, campaign: str | None = None) -> Manifest | None:
    """The manifest at ``path`` as typed entries (see ``read_manifest``); errors name the file."""
    data = read_manifest(path, campaign)
    if data is None:
        return None
    try:
        return Manifest.from_json(data)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def restore_from_manifest(manifest: Manifest, store: Store) -> int:
    """Adopt finished steps the manifest records and the state lacks; return how many."""
    return sum(_adopt(step, store) for job in manifest.jobs for step in job.steps)


def _adopt(step: StepEntry, store: Store) -> bool:
    sub = store.get(str(step.fingerprint))
    if sub is None or sub.status != Status.PENDING or sub.attempt:
        return False
    if not step.task_id or not step.files:
        return False
    records = [
        FileRecord(sub.key, f.index, f.name, f.url, f.sha256, f.bytes or 0) for f in step.files
    ]
    store.adopt(sub.key, step.task_id, [r.url for r in records], None, records)
    return True


def job_entry(
    job: Job,
    subs: Mapping[str, Submission],
    files: Mapping[str, list[FileRecord]],
    cost: float | None,
    versions: tuple[VersionEntry, ...] = (),
) -> JobEntry:
    """The manifest entry of ``job`` given the state's submissions and files by key
    (none: the entry of a job that never ran)."""
    steps = tuple(
        _step_entry(step, subs.get(step.fingerprint), files.get(step.fingerprint, []))
        for step in chain(job)
    )
    return JobEntry(
        name=job.name,
        fingerprint=job.fingerprint,
        output=job.output_name,
        image=ImageEntry.of(job.image),
        end_image=ImageEntry.of(job.end_image) if job.end_image else None,
        prompt_name=job.prompt_name,
        prompt=job.prompt,
        settings=job.settings,
        take=job.take,
        status=_job_status([step.status for step in steps]),
        steps=steps,
        matrix=job.matrix,
        cost=cost,
        versions=versions,
        provider=job.provider,
    )


def _step_entry(step: ChainStep, sub: Submission | None, records: list[FileRecord]) -> StepEntry:
    return StepEntry(
        step=step.step,
        fingerprint=step.fingerprint,
        prompt=step.prompt,
        motion=step.motion,
        index=step.extends,
        status=Status(sub.status) if sub else Status.PENDING,
        task_id=sub.task_id if sub else None,
        files=tuple(
            FileEntry(r.index, clip_name(step.step, r.index), r.url, r.sha256, r.size)
            for r in sorted(records, key=lambda r: r.index)
        ),
    )


def _job_status(statuses: list[Status]) -> JobStatus:
    if all(status == Status.DOWNLOADED for status in statuses):
        return JobStatus.DONE
    if Status.FAILED in statuses:
        return JobStatus.FAILED
    if all(status == Status.PENDING for status in statuses):
        return JobStatus.NEW
    return JobStatus.INCOMPLETE


def _counts(jobs: Iterable[JobEntry]) -> tuple[int, int, int, int]:
    """Jobs, done jobs, files and bytes, one entry at a time (nothing kept)."""
    number = done = files = size = 0
    for job in jobs:
        number += 1
        done += job.status == JobStatus.DONE
        listed = list(job.files())
        files += len(listed)
        size += sum(f.bytes or 0 for f in listed)
    return number, done, files, size
