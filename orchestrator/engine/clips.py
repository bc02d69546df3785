"""Clip files of a job: their names, and fetching them into place exactly when needed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from orchestrator.engine.downloads import Downloaded, Fetch, download_clip, file_matches
from orchestrator.errors import DownloadError, ServerError
from orchestrator.state import FileRecord, Store, Submission

DOWNLOAD_TRIES = 3


def clip_name(step: int, index: int) -> str:
    """File name of clip ``index`` of extension ``step`` (0 = the base clip)."""
    return f"clip-{index}.mp4" if step == 0 else f"ext{step}-clip-{index}.mp4"


class Clips:
    """Downloads succeeded submissions' clips; verifies and restores downloaded ones."""

    def __init__(self, store: Store, fetch: Fetch, concurrency: int) -> None:
        self._store = store
        self._fetch = fetch
        self._gate = asyncio.Semaphore(concurrency)
        self.downloaded = 0

    async def ensure(self, sub: Submission, folder: Path) -> None:
        """Make every clip of ``sub`` present in ``folder`` with its recorded content."""
        known = {record.index: record for record in self._store.files(sub.key)}
        urls = sub.clip_urls or tuple(known[i].url for i in sorted(known))
        if not urls:
            raise DownloadError(f"task {sub.task_id} finished without any clip URL")
        records: list[FileRecord] = []
        changed = sub.status != "downloaded"
        for index, url in enumerate(urls):
            record = known.get(index)
            dest = folder / clip_name(sub.step, index)
            if record is not None and file_matches(dest, record.sha256, record.size):
                records.append(record)
                continue
            records.append(await self._fetch_one(sub, index, url, dest, record))
            changed = True
        if changed:
            self._store.record_files(sub.key, records)

    async def _fetch_one(
        self, sub: Submission, index: int, url: str, dest: Path, record: FileRecord | None
    ) -> FileRecord:
        async with self._gate:
            got = await self._download(url, dest)
        if record is not None and got.sha256 != record.sha256:
            raise DownloadError(
                f"{dest}: downloaded content does not match the recorded sha256 {record.sha256}"
            )
        self.downloaded += 1
        return FileRecord(sub.key, index, dest.name, url, got.sha256, got.size)

    async def _download(self, url: str, dest: Path) -> Downloaded:
        for attempt in range(1, DOWNLOAD_TRIES + 1):
            try:
                return await download_clip(self._fetch, url, dest)
            except (DownloadError, ServerError):
                if attempt == DOWNLOAD_TRIES:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")
