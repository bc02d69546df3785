"""Clip files of a job: their names, and fetching them into place exactly when needed.

A paid clip is never deleted nor overwritten: a file in a clip's place that is about to be
replaced moves to ``versions/<fingerprint[:12]>-a<attempt>/`` of its job folder (or to
``versions/unknown-<sha256[:12]>/`` when the state does not know it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from orchestrator.atomic import fsync_dir
from orchestrator.engine.downloads import (
    Downloaded,
    Fetch,
    download_clip,
    file_digest,
    file_matches,
)
from orchestrator.errors import DownloadError, ServerError
from orchestrator.state import AsyncStore, FileRecord, Status, Submission

DOWNLOAD_TRIES = 3
VERSIONS_DIR = "versions"


def clip_name(step: int, index: int) -> str:
    """File name of clip ``index`` of extension ``step`` (0 = the base clip)."""
    return f"clip-{index}.mp4" if step == 0 else f"ext{step}-clip-{index}.mp4"


def version_name(key: str, attempt: int, name: str) -> str:
    """Where (relative to the job folder) the file ``name`` of ``key``'s attempt is kept."""
    return f"{VERSIONS_DIR}/{key[:12]}-a{attempt}/{name}"


class Clips:
    """Downloads succeeded submissions' clips; verifies and restores downloaded ones."""

    def __init__(
        self,
        store: AsyncStore,
        fetch: Fetch,
        concurrency: int,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._fetch = fetch
        self._gate = asyncio.Semaphore(concurrency)
        self._warn = warn or (lambda _: None)
        self.downloaded = 0

    async def ensure(
        self,
        sub: Submission,
        folder: Path,
        batch: int | None = None,
        meanwhile: Callable[[list[FileRecord]], Awaitable[None]] | None = None,
    ) -> list[FileRecord]:
        """Make every clip of ``sub`` present in ``folder`` with its recorded content; return
        their records, as now in the state.

        At most ``batch`` clips are kept: URLs a provider adds beyond it are ignored.
        ``meanwhile`` (the clips' checks) runs on the clips once they are on disk, while
        their records are written (a round trip or more to a database away).
        """
        known = {record.index: record for record in await self._store.files(sub.key)}
        urls = sub.clip_urls or tuple(known[i].url for i in sorted(known))
        if not urls:
            raise DownloadError(f"task {sub.task_id} finished without any clip URL")
        if batch is not None and len(urls) > batch:
            self._warn(
                f"task {sub.task_id} answered {len(urls)} clip URLs for a batch of {batch}: "
                f"the {len(urls) - batch} beyond it are ignored"
            )
            urls = urls[:batch]
        records: list[FileRecord] = []
        changed = sub.status != Status.DOWNLOADED
        for index, url in enumerate(urls):
            record = known.get(index)
            dest = folder / clip_name(sub.step, index)
            if record is not None and file_matches(dest, record.sha256, record.size):
                records.append(record)
                continue
            if record is not None and await asyncio.to_thread(self._unversion, record, dest):
                records.append(record)
                continue
            records.append(await self._fetch_one(sub, index, url, dest, record))
            changed = True
        if not changed:
            if meanwhile is not None:
                await meanwhile(records)
            return records
        work = asyncio.ensure_future(meanwhile(records)) if meanwhile is not None else None
        try:
            await self._store.record_files(sub.key, records)
        except BaseException:
            if work is not None:
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
            raise
        if work is not None:
            await work
        return records

    async def _fetch_one(
        self, sub: Submission, index: int, url: str, dest: Path, record: FileRecord | None
    ) -> FileRecord:
        async with self._gate:
            got = await self._download(url, dest, record.sha256 if record else None)
        self.downloaded += 1
        return FileRecord(sub.key, index, dest.name, url, got.sha256, got.size)

    async def _download(self, url: str, dest: Path, expected: str | None) -> Downloaded:
        for attempt in range(1, DOWNLOAD_TRIES + 1):
            try:
                return await download_clip(
                    self._fetch, url, dest, expected=expected, set_aside=self.set_aside
                )
            except (DownloadError, ServerError) as exc:
                # Not retryable: the content (mismatch), the URL (refused) or the disk (cannot
                # write: the runner stops paying and tries again later).
                if attempt == DOWNLOAD_TRIES or not exc.retryable:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    def _unversion(self, record: FileRecord, dest: Path) -> bool:
        """Put back a kept version with the recorded content (a reverted prompt edit)."""
        pattern = f"{record.key[:12]}-a*/{record.name}"
        for kept in sorted((dest.parent / VERSIONS_DIR).glob(pattern)):
            if file_matches(kept, record.sha256, record.size):
                if os.path.lexists(dest):
                    self.set_aside(dest)
                os.replace(kept, dest)
                return True
        return False

    def set_aside(self, dest: Path) -> None:
        """Move the file at ``dest`` into the job's versions folder (never delete it)."""
        found = file_digest(dest)
        if found is None:
            raise DownloadError(f"{dest}: cannot read the file there to keep it: refusing")
        label = self._owner(found) or f"unknown-{found.sha256[:12]}"
        target = dest.parent / VERSIONS_DIR / label / dest.name
        if target.exists() and not file_matches(target, found.sha256, found.size):
            target = dest.parent / VERSIONS_DIR / f"{label}-{found.sha256[:12]}" / dest.name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if file_matches(target, found.sha256, found.size):
                dest.unlink()  # the very same bytes are kept there already
            else:
                os.replace(dest, target)
                fsync_dir(target.parent)  # kept for good before a new clip takes its name
        except OSError as exc:
            raise DownloadError(f"{dest}: cannot move it to {target} to keep it: {exc}") from exc

    def _owner(self, found: Downloaded) -> str | None:
        """``<key[:12]>-a<attempt>`` of the recorded file with this content, if any."""
        store = self._store.sync  # a rare path, called from the file work (maybe a thread)
        for key, records in store.all_files().items():
            if any(r.sha256 == found.sha256 and r.size == found.size for r in records):
                sub = store.get(key)
                return f"{key[:12]}-a{sub.attempt if sub else 0}"
        for version in store.file_versions():
            if version.file.sha256 == found.sha256 and version.file.size == found.size:
                return f"{version.file.key[:12]}-a{version.attempt}"
        return None
