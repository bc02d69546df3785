"""Every client call and error class, replayed from cassettes recorded against the simulator.

See tests/cassette_support.py for how to re-record. A transport error cannot be recorded, so
SubmitOutcomeUnknownError is covered live in test_simulator_faults.py and in test_client.py.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cassette_support import CASSETTES, Target, leaks, scrub, target, vcr_settings

from orchestrator import errors
from orchestrator.client import Client, ExtendRequest, Task, VideoRequest, classify_failure
from orchestrator.model import Settings
from orchestrator.simulator import SimulatorConfig

T = TypeVar("T")
IMAGE = "https://cdn.example.com/sneaker.png"


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return vcr_settings()


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES / "client")


def run(
    fn: Callable[[Client, Target], Coroutine[Any, Any, T]], config: SimulatorConfig | None = None
) -> T:
    async def go(where: Target) -> T:
        async with Client(where.api_key, where.base_url) as client:
            return await fn(client, where)

    with target(config) as where:
        return asyncio.run(go(where))


async def settle(client: Client, task_id: str, where: Target) -> Task:
    """Poll until the task stops running (replay: as many polls as were recorded)."""
    task = await client.fetch_task(task_id)
    while not (task.terminal or task.needs_modal):
        await asyncio.sleep(where.poll_seconds)
        task = await client.fetch_task(task_id)
    return task


def video(state: str, prompt: str = "slow orbit, warm light", batch: int = 2) -> VideoRequest:
    return VideoRequest(IMAGE, prompt, Settings(batch_size=batch), state=state)


async def fetch_bytes(client: Client, url: str) -> bytes:
    out = io.BytesIO()
    await client.download(url, out.write)
    return out.getvalue()


# --- every call ----------------------------------------------------------------------------------


@pytest.mark.vcr
def test_create_poll_and_download() -> None:
    async def scenario(c: Client, where: Target) -> tuple[Task, list[bytes]]:
        task = await settle(c, await c.create_video(video("cassette-create-a1")), where)
        return task, [await fetch_bytes(c, url) for url in task.clip_urls]

    task, clips = run(scenario)
    assert task.succeeded and task.state == "cassette-create-a1" and len(task.clip_urls) == 2
    assert all(clip[4:8] == b"ftyp" for clip in clips) and clips[0] != clips[1]


@pytest.mark.vcr
def test_extend_a_clip() -> None:
    async def scenario(c: Client, where: Target) -> Task:
        parent = await settle(c, await c.create_video(video("cassette-extend-a1")), where)
        req = ExtendRequest(parent.id, 1, "high", "keep orbiting", 2, state="cassette-extend-e1")
        return await settle(c, await c.extend_video(req), where)

    task = run(scenario)
    # batchSize is sent on the extension too: exactly the parent's two clips, not four.
    assert task.succeeded and task.state == "cassette-extend-e1" and len(task.clip_urls) == 2


@pytest.mark.vcr
def test_list_tasks_leaves_unknown_ids_out() -> None:
    async def scenario(c: Client, where: Target) -> list[Task]:
        first = await c.create_video(video("cassette-list-a1", batch=1))
        return await c.list_tasks([first, "1"])

    tasks = run(scenario)
    assert [t.state for t in tasks] == ["cassette-list-a1"]


@pytest.mark.vcr
def test_upload_images() -> None:
    urls = run(lambda c, _: c.upload_images([(b"\x89PNG\r\n\x1a\n-demo", "image/png")]))
    assert len(urls) == 1 and urls[0].startswith("http")


@pytest.mark.vcr
def test_imagine_upscale_and_modal() -> None:
    async def scenario(c: Client, where: Target) -> tuple[Task, Task, Task]:
        grid = await settle(c, await c.imagine("a red sneaker", state="cassette-img"), where)
        up_id = await c.action(grid.id, grid.buttons[0], state="cassette-up1")
        upscale = await settle(c, up_id, where)
        zoom = await settle(c, await c.action(upscale.id, upscale.buttons[0]), where)
        return grid, upscale, await settle(c, await c.modal(zoom.id, "zoom out"), where)

    grid, upscale, zoom = run(scenario)
    assert grid.action == "IMAGINE" and len(grid.buttons) == 4
    assert upscale.action == "UPSCALE" and upscale.image_url and zoom.succeeded


# --- every error class ---------------------------------------------------------------------------


def error_of(
    fn: Callable[[Client, Target], Coroutine[Any, Any, Any]], config: SimulatorConfig | None = None
) -> errors.MjvError:
    with pytest.raises(errors.MjvError) as info:
        run(fn, config)
    return info.value


def create(state: str, prompt: str = "slow orbit") -> Callable[[Client, Target], Any]:
    return lambda c, _: c.create_video(video(state, prompt))


@pytest.mark.vcr
def test_authentication_error() -> None:
    async def scenario(c: Client, where: Target) -> Any:
        async with Client("mjv-wrong-key", where.base_url) as wrong:
            return await wrong.fetch_task("1")

    exc = error_of(scenario)
    assert isinstance(exc, errors.AuthenticationError) and exc.stops_run


@pytest.mark.vcr
def test_task_not_found_error() -> None:
    assert isinstance(error_of(lambda c, _: c.fetch_task("1")), errors.TaskNotFoundError)


@pytest.mark.vcr
def test_invalid_request_error() -> None:
    req = VideoRequest(IMAGE, "x", Settings(mode="relax", video_type="vid_1.1_i2v_720"))
    exc = error_of(lambda c, _: c.create_video(req), SimulatorConfig())
    assert isinstance(exc, errors.InvalidRequestError) and not exc.retryable


@pytest.mark.vcr
def test_no_account_error() -> None:
    req = ExtendRequest("42", 0, "low", "more")
    exc = error_of(lambda c, _: c.extend_video(req), SimulatorConfig())
    assert isinstance(exc, errors.NoAccountError) and exc.retryable


@pytest.mark.vcr
def test_hd_unavailable_error() -> None:
    req = VideoRequest(IMAGE, "x", Settings(video_type="vid_1.1_i2v_720"), state="cassette-hd")
    exc = error_of(lambda c, _: c.create_video(req), SimulatorConfig(hd=False))
    assert isinstance(exc, errors.HdUnavailableError) and not exc.retryable


@pytest.mark.vcr
def test_relay_error() -> None:
    exc = error_of(create("cassette-relay"), SimulatorConfig(relay_error=1.0))
    assert isinstance(exc, errors.RelayError) and exc.retryable


@pytest.mark.vcr
def test_refused_error() -> None:
    exc = error_of(create("cassette-refused"), SimulatorConfig(refusal=1.0))
    assert isinstance(exc, errors.RefusedError) and not exc.retryable


@pytest.mark.vcr
def test_account_locked_error() -> None:
    exc = error_of(create("cassette-locked"), SimulatorConfig(account_locked=True))
    assert isinstance(exc, errors.AccountLockedError) and exc.stops_run


@pytest.mark.vcr
def test_accepted_state_unknown_error() -> None:
    exc = error_of(create("cassette-unknown"), SimulatorConfig(state_unknown=1.0))
    assert isinstance(exc, errors.SubmitOutcomeUnknownError)


@pytest.mark.vcr
def test_quota_error() -> None:
    exc = error_of(create("cassette-quota"), SimulatorConfig(credits=0))
    assert isinstance(exc, errors.QuotaError) and exc.stops_run


@pytest.mark.vcr
def test_rate_limited_error() -> None:
    exc = error_of(create("cassette-429"), SimulatorConfig(rate_limit=1.0, retry_after=3))
    assert isinstance(exc, errors.RateLimitedError) and exc.retry_after == 3.0


@pytest.mark.vcr
def test_queue_full_error() -> None:
    exc = error_of(create("cassette-queue"), SimulatorConfig(queue_full=1.0, queue_full_style="23"))
    assert isinstance(exc, errors.QueueFullError) and exc.retryable


@pytest.mark.vcr
def test_banned_prompt_error() -> None:
    # Code 24 comes from the imagine route only; on the video route moderation is a FAILURE.
    config = SimulatorConfig(banned_words=("gore",))
    exc = error_of(lambda c, _: c.imagine("gore and fire", state="cassette-banned"), config)
    assert isinstance(exc, errors.BannedPromptError) and exc.banned_word == "gore"


@pytest.mark.vcr
def test_moderation_failure_on_the_video_route() -> None:
    async def scenario(c: Client, where: Target) -> Task:
        return await settle(c, await c.create_video(video("cassette-mod", "gore")), where)

    task = run(scenario, SimulatorConfig(job_seconds=0.05, banned_words=("gore",)))
    exc = classify_failure(task)
    assert task.failed and exc.moderation and exc.reason == "可能包含敏感词"


@pytest.mark.vcr
def test_server_error() -> None:
    exc = error_of(create("cassette-5xx"), SimulatorConfig(server_error=1.0))
    assert isinstance(exc, errors.ServerError) and exc.retryable


@pytest.mark.vcr
def test_task_failed_error() -> None:
    async def scenario(c: Client, where: Target) -> Task:
        return await settle(c, await c.create_video(video("cassette-fail")), where)

    task = run(scenario, SimulatorConfig(job_seconds=0.05, fail_rate=1.0))
    exc = classify_failure(task)
    assert task.failed and task.fail_reason and not exc.moderation and exc.retryable


@pytest.mark.vcr
def test_queue_full_in_trueai_words() -> None:
    exc = error_of(create("cassette-queue9"), SimulatorConfig(queue_full=1.0))
    assert isinstance(exc, errors.QueueFullError) and "队列已满" in str(exc)


# --- the cassettes themselves --------------------------------------------------------------------


def test_no_cassette_holds_anything_like_a_key() -> None:
    assert list(CASSETTES.rglob("*.yaml")), "no cassettes recorded"
    assert leaks() == []


def test_the_leak_scan_would_catch_a_key(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "headers:\n  Authorization:\n  - Bearer sk-abcdef123456\nbody: sk-zzzzzzzz99\n"
    )
    assert len(leaks(tmp_path)) == 4
    assert "sk-" not in scrub("key sk-abcdef123456 and sk-simulator")
