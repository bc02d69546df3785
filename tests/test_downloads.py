"""Clip downloads: verified, atomic, and never leaving a half-written file behind."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine import downloads
from orchestrator.engine.downloads import Downloaded, Fetch, download_clip, file_matches
from orchestrator.errors import DownloadError, ServerError

MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 40
URL = "https://cdn.example.com/video/123_0.mp4"


def _serve(*chunks: bytes, fail: BaseException | None = None) -> Fetch:
    """A fake client.download that streams ``chunks`` and then optionally raises ``fail``."""

    async def fetch(url: str, sink: Callable[[bytes], None]) -> int:
        assert url == URL
        for chunk in chunks:
            sink(chunk)
            await asyncio.sleep(0)
        if fail is not None:
            raise fail
        return sum(len(c) for c in chunks)

    return fetch


def _download(fetch: Fetch, dest: Path) -> Downloaded:
    return asyncio.run(download_clip(fetch, URL, dest))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_good_file_lands_with_hash_and_size(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "job-a" / "clip-0.mp4"
    # Split inside the header too, so the ftyp check works across chunk borders.
    result = _download(_serve(MP4[:3], MP4[3:6], MP4[6:1000], MP4[1000:]), dest)
    assert dest.read_bytes() == MP4
    assert result == Downloaded(sha256=hashlib.sha256(MP4).hexdigest(), size=len(MP4))
    assert _leftovers(dest.parent) == []


def test_file_mode_follows_the_umask_not_0600(tmp_path: Path) -> None:
    dest = tmp_path / "clip-0.mp4"
    old = os.umask(0o022)
    try:
        _download(_serve(MP4), dest)
    finally:
        os.umask(old)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def test_good_file_replaces_an_old_one(tmp_path: Path) -> None:
    dest = tmp_path / "clip-0.mp4"
    dest.write_bytes(b"old and altered")
    _download(_serve(MP4), dest)
    assert dest.read_bytes() == MP4


@pytest.mark.parametrize(
    ("chunks", "needle"),
    [
        ((), "empty"),
        ((b"",), "empty"),
        ((b"<html><body>502 Bad Gateway</body></html>",), "not an MP4"),
        ((b"\x00\x00\x00",), "not an MP4"),
        ((b"\x00\x00\x00\x18moov" + b"\x00" * 64,), "not an MP4"),
    ],
)
def test_bad_bodies_are_refused_and_old_dest_kept(
    tmp_path: Path, chunks: tuple[bytes, ...], needle: str
) -> None:
    dest = tmp_path / "job" / "clip-0.mp4"
    dest.parent.mkdir()
    dest.write_bytes(MP4[:-1])  # an earlier file: must stay exactly as it was
    with pytest.raises(DownloadError) as caught:
        _download(_serve(*chunks), dest)
    message = str(caught.value)
    assert needle in message
    assert URL in message
    assert str(dest) in message
    assert dest.read_bytes() == MP4[:-1]
    assert _leftovers(dest.parent) == []


def test_bad_body_without_old_dest_creates_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "clip-0.mp4"
    with pytest.raises(DownloadError):
        _download(_serve(b"nope"), dest)
    assert list(dest.parent.iterdir()) == []


def test_fetch_failing_mid_stream_leaves_no_temp_and_old_dest_untouched(tmp_path: Path) -> None:
    dest = tmp_path / "clip-0.mp4"
    dest.write_bytes(b"previous good clip")
    fetch = _serve(MP4[:500], MP4[500:900], fail=ServerError("connection reset"))
    with pytest.raises(ServerError):
        _download(fetch, dest)
    assert dest.read_bytes() == b"previous good clip"
    assert _leftovers(tmp_path) == []


def test_cancellation_mid_stream_leaves_no_temp(tmp_path: Path) -> None:
    dest = tmp_path / "clip-0.mp4"
    started = asyncio.Event()

    async def hang(url: str, sink: Callable[[bytes], None]) -> int:
        sink(MP4[:100])
        started.set()
        await asyncio.Event().wait()
        return 0

    async def main() -> None:
        task = asyncio.create_task(download_clip(hang, URL, dest))
        await started.wait()
        assert len(_leftovers(tmp_path)) == 1  # the temp file sits beside dest while streaming
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_cancellation_while_the_temp_file_is_made_leaves_no_temp_nor_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folder and temp file are made in a thread; a download cancelled meanwhile closes
    # and removes the file once the thread has made it.
    dest = tmp_path / "clip-0.mp4"
    entered, release = threading.Event(), threading.Event()
    made: list[tuple[int, int]] = []  # (descriptor, inode)
    create, discard = downloads._create, downloads._discard

    def slow_create(temp: Path) -> int:
        entered.set()
        release.wait()
        fd = create(temp)
        made.append((fd, os.fstat(fd).st_ino))
        return fd

    async def main() -> None:
        discarded = asyncio.Event()

        def noted(created: asyncio.Future[int], temp: Path) -> None:
            discard(created, temp)
            discarded.set()

        monkeypatch.setattr(downloads, "_create", slow_create)
        monkeypatch.setattr(downloads, "_discard", noted)
        task = asyncio.create_task(download_clip(_serve(MP4), URL, dest))
        await asyncio.to_thread(entered.wait)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await discarded.wait()

    asyncio.run(main())
    assert not dest.exists()
    assert _leftovers(tmp_path) == []
    fd, inode = made[0]
    with contextlib.suppress(OSError):  # closed (its number may serve another file now)
        assert os.fstat(fd).st_ino != inode


def test_unwritable_folder_is_a_download_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(DownloadError) as caught:
        _download(_serve(MP4), blocker / "clip-0.mp4")
    assert URL in str(caught.value)


def test_file_matches(tmp_path: Path) -> None:
    path = tmp_path / "clip-0.mp4"
    path.write_bytes(MP4)
    digest = hashlib.sha256(MP4).hexdigest()
    assert file_matches(path, digest, len(MP4))
    assert not file_matches(path, digest, len(MP4) + 1)
    assert not file_matches(path, "0" * 64, len(MP4))
    path.write_bytes(MP4[:-1] + b"\x00")  # same size, altered content
    assert not file_matches(path, digest, len(MP4))
    assert not file_matches(tmp_path / "missing.mp4", digest, len(MP4))
    assert not file_matches(tmp_path, digest, len(MP4))  # a folder is not a file


def test_file_matches_checks_size_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clip-0.mp4"
    path.write_bytes(MP4)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("file_matches read a file whose size already differs")

    monkeypatch.setattr(Path, "open", no_reading)
    assert not file_matches(path, hashlib.sha256(MP4).hexdigest(), len(MP4) - 1)


def test_content_that_differs_from_the_recorded_sha_never_takes_the_name(tmp_path: Path) -> None:
    dest = tmp_path / "clip-0.mp4"
    dest.write_bytes(b"the clip in place")
    with pytest.raises(DownloadError, match="does not match the recorded sha256"):
        asyncio.run(download_clip(_serve(MP4), URL, dest, expected="0" * 64))
    assert dest.read_bytes() == b"the clip in place"
    assert _leftovers(tmp_path) == []


def test_the_file_in_place_is_set_aside_just_before_the_rename(tmp_path: Path) -> None:
    dest = tmp_path / "clip-0.mp4"
    dest.write_bytes(b"an earlier paid clip")
    kept = tmp_path / "kept.mp4"
    seen: list[bytes] = []

    def set_aside(path: Path) -> None:
        seen.append(path.read_bytes())
        path.rename(kept)

    expected = hashlib.sha256(MP4).hexdigest()
    asyncio.run(download_clip(_serve(MP4), URL, dest, expected=expected, set_aside=set_aside))
    assert seen == [b"an earlier paid clip"]
    assert kept.read_bytes() == b"an earlier paid clip"
    assert dest.read_bytes() == MP4


class _SlowRecords:
    """The store side of ``Clips``: no file recorded yet; ``record_files`` waits for ``gate``
    (a database away) or raises ``fail``."""

    def __init__(self, gate: asyncio.Event, fail: BaseException | None = None) -> None:
        self.gate, self.fail = gate, fail
        self.recorded: list[object] = []

    async def files(self, key: str) -> list[object]:
        return []

    async def record_files(self, key: str, records: list[object]) -> None:
        await asyncio.wait_for(self.gate.wait(), 5)
        if self.fail is not None:
            raise self.fail
        self.recorded.extend(records)


def _succeeded() -> Any:
    from orchestrator.state import Status, Submission

    return Submission(
        "k" * 64, "job-a", "video", 0, None, Status.SUCCEEDED, 1, "t1", None, None,
        (URL,), None, None, None, 0.0,
    )  # fmt: skip


def test_clips_are_checked_while_their_records_are_written(tmp_path: Path) -> None:
    from orchestrator.engine.clips import Clips

    async def scenario() -> tuple[list[str], list[object]]:
        gate = asyncio.Event()
        store = _SlowRecords(gate)
        checked: list[str] = []

        async def check(records: list[Any]) -> None:
            checked.extend(r.name for r in records)
            gate.set()  # the records' write may end only once the check has begun

        clips = Clips(store, _serve(MP4), 1)  # type: ignore[arg-type]
        await clips.ensure(_succeeded(), tmp_path, 1, check)
        return checked, store.recorded

    checked, recorded = asyncio.run(scenario())
    assert checked == ["clip-0.mp4"] and len(recorded) == 1
    assert (tmp_path / "clip-0.mp4").read_bytes() == MP4


def test_a_failed_record_write_cancels_the_check_and_is_raised(tmp_path: Path) -> None:
    from orchestrator.engine.clips import Clips

    async def scenario() -> bool:
        gate = asyncio.Event()
        store = _SlowRecords(gate, fail=ServerError("state gone"))
        cancelled = asyncio.Event()

        async def check(records: list[Any]) -> None:
            gate.set()
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        clips = Clips(store, _serve(MP4), 1)  # type: ignore[arg-type]
        with pytest.raises(ServerError, match="state gone"):
            await clips.ensure(_succeeded(), tmp_path, 1, check)
        return cancelled.is_set()

    assert asyncio.run(scenario())
