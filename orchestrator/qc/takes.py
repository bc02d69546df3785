"""Checking a job's clips as they are saved, and what a failed check leads to.

The checks run in a worker thread (decoding releases the interpreter lock), so polling and
submitting keep their pace. A check is kept in the state with the content hash of the file it
looked at: a rerun reads it back instead of decoding again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from orchestrator.engine.clips import clip_name
from orchestrator.model import Extension, Job
from orchestrator.qc.images import ImageCache
from orchestrator.qc.pictures import PictureFinder
from orchestrator.qc.rules import Expected, QcResult
from orchestrator.results import Manifest
from orchestrator.spec.identity import (
    encode_image,
    encode_settings,
    extension_fingerprint,
    hash_job,
)
from orchestrator.state import FileRecord, QcRecord, Store, Submission
from orchestrator.state.async_store import AsyncStore

RETAKE_FOLDER = "retake-{}"


class ClipsFailedError(Exception):
    """A job has no clip that passed its checks to go on with (its message says which)."""


def retake_of(job: Job, number: int) -> Job:
    """The ``number``-th retake of ``job``: the same request as a new take, with its own
    fingerprint (the take plus a retake counter), folder and extension chain."""
    if number == 0:
        return job
    base = hash_job(
        encode_image(job.image),
        encode_image(job.end_image),
        job.prompt,
        encode_settings(job.settings),
        job.take,
        retake=number,
        provider=job.provider,
    )
    parent, steps = base, []
    for ext in job.extensions:
        parent = extension_fingerprint(parent, ext.prompt, ext.motion, ext.index)
        steps.append(Extension(ext.step, ext.prompt, ext.motion, ext.index, parent))
    output = f"{job.output_name}/{RETAKE_FOLDER.format(number)}"
    return replace(
        job, fingerprint=base, extensions=tuple(steps), output_name=output, retake=number
    )


def restore_retake(manifest: Manifest | None, take: Job, store: Store) -> int:
    """Adopt the finished steps of retake ``take`` that the manifest records and the state
    lacks (a lost state file: the retake was paid for once already); return how many."""
    from orchestrator.engine.manifest import restore_from_manifest  # it imports this module

    if manifest is None:
        return 0
    found = [
        replace(entry, steps=retake.steps)
        for entry in manifest.jobs
        if entry.name == take.name
        for retake in entry.retakes
        if retake.fingerprint == take.fingerprint
    ]
    return restore_from_manifest(replace(manifest, jobs=found), store) if found else 0


def may_approve(result: QcResult | None, *, force: bool = False) -> bool:
    """May a clip with this check be approved? A failed one only with ``--force``."""
    return force or result is None or result.passed


class ClipChecker:
    """Checks each saved clip once (in a worker) and remembers the results of this campaign."""

    def __init__(
        self,
        store: Store | AsyncStore,
        executor: Executor | None = None,
        *,
        images: ImageCache | None = None,
        warn: Callable[[str], None] = lambda _: None,
    ) -> None:
        # A run's store answers on its own thread (AsyncStore); `mjv qc` uses a plain one.
        self._async = store if isinstance(store, AsyncStore) else None
        self._store: Store = store.sync if isinstance(store, AsyncStore) else store
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="mjv-qc")
        self._pictures = PictureFinder(images, self._lookup, warn)
        known = self._store.qc_results()
        self._results = {k: QcResult.from_json(r.result) for k, r in known.items()}
        self._hashes = {k: r.sha256 for k, r in known.items()}

    def warm(self) -> None:
        """Load PyAV and numpy in the worker now, so no clip's check waits for them (half a
        second of a busy machine; the last clip of a runner that checked none before held
        the team's tail by that)."""
        self._executor.submit(_load_decoder)

    def result(self, key: str, index: int) -> QcResult | None:
        """The check of clip ``index`` of submission ``key``, if it was checked."""
        return self._results.get((key, index))

    async def check(
        self, job: Job, sub: Submission, records: Iterable[FileRecord], folder: Path
    ) -> None:
        """Check the clips of ``sub`` (a step of ``job``) not yet checked as they are now."""
        if not job.qc.enabled:
            return
        for record in records:
            where = (record.key, record.index)
            if self._hashes.get(where) == record.sha256:
                continue
            seen = await self._pictures.local(job) if sub.step == 0 else job
            result = await asyncio.get_running_loop().run_in_executor(
                self._executor, _check, seen, sub.step, folder, record.name
            )
            passed, text = result.passed, result.to_json()
            done = QcRecord(record.key, record.index, record.sha256, passed, text)
            if self._async is not None:
                await self._async.run(self._store.record_qc, done)
            else:
                self._store.record_qc(done)
            self._results[where], self._hashes[where] = result, record.sha256

    async def require(
        self,
        job: Job,
        sub: Submission,
        saved: Awaitable[None],
        indexes: Iterable[int],
        every: bool = False,
    ) -> None:
        """Once ``saved`` (the step's download and check) is done: ClipsFailedError when the
        clips ``indexes`` of ``sub`` failed their checks (``every``: when all of them did).
        A failed clip is never extended."""
        if not job.qc.enabled:
            return
        await saved
        wanted = list(indexes)
        reasons = self.usable(sub.key, wanted)
        if reasons and (not every or len(reasons) == len(wanted)):
            step = f"extension {sub.step}" if sub.step else "the base clip"
            raise ClipsFailedError(f"job {job.name}: {step}: {'; '.join(reasons)}")

    def usable(self, key: str, indexes: Iterable[int]) -> list[str]:
        """Why the clips ``indexes`` of ``key`` may not be built on (empty: they may)."""
        reasons = []
        for index in indexes:
            found = self.result(key, index)
            if found is not None and not found.passed:
                reasons.append(f"clip {index} failed its checks ({'; '.join(found.reasons)})")
        return reasons

    async def _lookup(self, key: str) -> Submission | None:
        if self._async is not None:
            return await self._async.get(key)
        return self._store.get(key)

    def close(self) -> None:
        """Stop the worker once the checks in flight are done."""
        self._executor.shutdown(wait=True)


def _load_decoder() -> None:
    import orchestrator.qc.check  # noqa: F401  (PyAV, numpy)


def _check(job: Job, step: int, folder: Path, name: str) -> QcResult:
    """Check one clip (in the worker); PyAV is loaded with the first check. The images'
    ``path`` is where they are at hand: a local file, or a kept copy (PictureFinder.local)."""
    from orchestrator.qc.check import ClipCheck, check_clip

    parent = None
    if step > 0:
        ext = job.extensions[step - 1]
        parent = folder / clip_name(step - 1, ext.index)
    base = step == 0
    check = ClipCheck(
        folder / name,
        job.qc,
        Expected.of(step, job.settings.video_type),
        start_image=job.image.path if base else None,
        end_image=job.end_image.path if base and job.end_image is not None else None,
        loop=base and job.settings.loop,
        parent=parent,
    )
    return check_clip(check)
