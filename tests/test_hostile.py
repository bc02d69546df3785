"""A hostile or broken provider cannot crash, fill, hang or leak: every mode of hostile_server.

Each test would fail on the code before issue 21: an uncaught InvalidURL, a 2 GiB clip saved,
a trickle that never ends, 50 clips for a batch of 1, a 400 MB answer read whole, a key that
comes back upper-cased into the state.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from hostile_server import KEY, Hostile, hostile
from runsupport import FAST, Result, mjv, write

from orchestrator.client import Client
from orchestrator.errors import ConfigError, MalformedAnswerError, ProviderUnreachableError
from orchestrator.wire import MAX_RETRY_AFTER, parse_retry_after, parse_task
from orchestrator.wirecheck import MB, Bounds

SPEC = """\
version: 1
campaign: hostile
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: "j{{ take }}"
    images: [a]
    prompts: [orbit]
    takes: 2
"""


def _run(base_url: str, spec: Path, *extra: str) -> Result:
    return mjv("run", str(spec), "--base-url", base_url, *FAST, *extra)


def _leftovers(spec: Path) -> list[str]:
    """Every file a run left in the output folder but the manifest and the report."""
    out = spec.parent / "out" / "hostile"
    keep = {"manifest.json", "report.html"}
    return sorted(  # thumbs/: the clip checks' pictures of each clip
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.is_file() and p.name not in keep and p.parent.name != "thumbs"
    )


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJV_API_KEY", KEY)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:abc/x.mp4",
        "http://127.0.0.1:99999/x.mp4",
        "http://127.0.0.1/x\x1b[31m.mp4",
        "file:///etc/passwd",
        "http://user:pw@/x.mp4",
    ],
)
def test_a_malformed_clip_url_fails_its_jobs_not_the_run_nor_the_next(
    tmp_path: Path, url: str
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with hostile(Hostile(clip_url=url)) as server:
        for _ in range(2):  # the next run meets the recorded URL: the same clean failure
            result = _run(server.base_url, spec)
            assert result.code == 3, result.err
            assert "internal error" not in result.err
            assert result.out.count("refused clip URL") == 2, result.out
            assert "report: " in result.out
    assert _leftovers(spec) == []


@pytest.mark.parametrize(
    "location", ["http://127.0.0.1:abc/x.mp4", "http://127.0.0.1:99999/x.mp4", "file:///etc/passwd"]
)
def test_a_clip_redirected_to_a_malformed_url_fails_its_jobs_cleanly(
    tmp_path: Path, location: str
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with hostile(Hostile(clip_redirect=location)) as server:
        result = _run(server.base_url, spec)
    assert result.code == 3, result.err
    assert "internal error" not in result.err
    # Refused before the hop is sent, or (an unparsable Location) not followed at all.
    refused = result.out.count("refused clip URL") + result.out.count("RemoteProtocolError")
    assert result.out.count("failed (") == 2 and refused == 2, result.out
    assert _leftovers(spec) == []


def test_a_task_id_that_climbs_is_never_put_into_a_path(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with hostile(Hostile(task_id="../../mj/submit/video")) as server:
        result = _run(server.base_url, spec)
        again = _run(server.base_url, spec, "--in-doubt", "skip")
    assert "internal error" not in result.err + again.err
    # Accepted, maybe charged, but unusable: in doubt at once, never sent twice in a run.
    assert (
        result.out.count(
            "in doubt after 1 tries: refused task id of an accepted submit '../../mj/submit/video'"
        )
        == 2
    ), result.out
    assert not [path for path in server.mode.requests if ".." in path]
    assert server.mode.requests.count("/mj-fast/mj/submit/video") == 2
    assert again.out.count("in doubt (sent, answer lost); skipped") == 2


def test_a_clip_announced_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with hostile(Hostile(clip_bytes=2 << 30)) as server:
        result = _run(server.base_url, spec)
    assert result.code == 3
    assert "announced as 2048 MB, over the clip size cap of 256 MB" in result.out
    assert _leftovers(spec) == []


def test_an_endless_clip_stops_at_the_cap_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJV_MAX_CLIP_MB", "1")
    spec = write(tmp_path / "c.yaml", SPEC)
    with hostile(Hostile(clip_bytes=1 << 40, announce_clip=False)) as server:
        result = _run(server.base_url, spec)
    assert result.code == 3
    assert "the body kept coming, over the clip size cap of 1 MB" in result.out
    assert _leftovers(spec) == []


def test_a_trickling_clip_ends_at_the_download_deadline_as_retryable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server never finishes the body (one byte every 0.2 s): only the deadline ends it.
    monkeypatch.setenv("MJV_DOWNLOAD_TIMEOUT", "0.3")
    spec = write(tmp_path / "c.yaml", SPEC.replace("takes: 2", "takes: 1"))
    with hostile(Hostile(clip_trickle=0.2)) as server:
        result = _run(server.base_url, spec)
    assert result.code == 3
    assert "did not finish within 0.3 s (MJV_DOWNLOAD_TIMEOUT)" in result.out
    assert "failed (retryable)" in result.out
    assert _leftovers(spec) == []


def test_clip_urls_beyond_the_batch_are_ignored_with_a_warning(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with hostile(Hostile(extra_clips=49)) as server:
        result = _run(server.base_url, spec)
    assert result.code == 0, result.out + result.err
    assert _leftovers(spec) == ["j1/clip-0.mp4", "j2/clip-0.mp4"]
    assert result.err.count("answered 50 clip URLs for a batch of 1") == 2
    report = (spec.parent / "out/hostile/report.html").read_text()
    assert "base-uri 'none'; form-action 'none'" in report


@pytest.mark.parametrize("announce", [True, False])
def test_a_huge_answer_is_refused_with_flat_memory(announce: bool) -> None:
    async def poll(base_url: str) -> None:
        async with Client(KEY, base_url) as client:
            await client.list_tasks(["1"])

    with hostile(Hostile(answer_bytes=400 * MB, announce_answer=announce)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(MalformedAnswerError, match="larger than 8 MB"):
                asyncio.run(poll(server.base_url))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 40 * MB


def test_a_gzip_bomb_is_inflated_a_piece_at_a_time() -> None:
    async def poll(base_url: str) -> None:
        async with Client(KEY, base_url) as client:
            await client.list_tasks(["1"])

    with hostile(Hostile(answer_gzip=256 * MB)) as server:  # about 250 kB on the wire
        tracemalloc.start()
        try:
            with pytest.raises(MalformedAnswerError, match="larger than 8 MB"):
                asyncio.run(poll(server.base_url))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 40 * MB


def test_the_bounds_come_from_the_environment() -> None:
    bounds = Bounds.from_env({"MJV_MAX_ANSWER_MB": "2", "MJV_DOWNLOAD_TIMEOUT": "60"})
    assert (bounds.max_answer_bytes, bounds.download_seconds) == (2 * MB, 60.0)
    assert Bounds.from_env({}).max_clip_bytes == 256 * MB
    with pytest.raises(ConfigError, match="MJV_MAX_CLIP_MB must be a positive number"):
        Bounds.from_env({"MJV_MAX_CLIP_MB": "-1"})


def test_a_key_echoed_upper_cased_or_bare_reaches_no_output_nor_the_state(
    tmp_path: Path,
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC + "run: {max_attempts: 1}\n")
    reason = f"invalid token {KEY.upper()} (or {KEY[3:]}, {KEY[3:].lower()})"
    with hostile(Hostile(fail_reason=reason)) as server:
        result = _run(server.base_url, spec)
        status = mjv("status", str(spec))
    assert result.code == 3
    shown = result.out + result.err + status.out + status.err
    state = sqlite3.connect(spec.parent / ".mjv/state.db")
    try:
        stored = " ".join(str(row) for row in state.execute("SELECT * FROM submissions"))
    finally:
        state.close()
    for text in (shown, stored):
        assert "invalid token ***" in text
        assert KEY[3:].lower() not in text.lower()


def test_credentials_in_the_base_url_are_never_printed() -> None:
    with hostile(Hostile()) as server:
        url = server.base_url.replace("http://", "http://someone:hunter2pass@")
        reached = mjv("doctor", "--base-url", url)
    closed_url = "http://someone:hunter2pass@127.0.0.1:9"
    closed = mjv("doctor", "--base-url", closed_url)

    async def ping() -> str:  # the message a retry line of a run would show
        async with Client(KEY, closed_url) as client:
            with pytest.raises(ProviderUnreachableError) as caught:
                await client.ping()
        return str(caught.value)

    retry_line = asyncio.run(ping())
    for text in (reached.out + reached.err, closed.out + closed.err, retry_line):
        assert "hunter2pass" not in text and "someone" not in text
    assert "provider: http://***@127.0.0.1" in reached.out
    assert "http://***@127.0.0.1:9" in retry_line


def test_a_task_object_of_the_wrong_shapes_parses_without_inventing_urls() -> None:
    task = parse_task(
        {"id": 7, "status": "SUCCESS", "videoUrls": "http://x/a.mp4", "properties": 5}
    )
    assert (task.id, task.clip_urls, task.properties) == ("7", (), {})
    with pytest.raises(MalformedAnswerError, match=re.escape("refused task id '../x'")):
        parse_task({"id": "../x", "status": "SUCCESS"})


def test_a_retry_after_cannot_park_a_run_for_ever() -> None:
    assert parse_retry_after("1e9") == MAX_RETRY_AFTER
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None
    assert parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT") == MAX_RETRY_AFTER
