"""Unit tests of the provider client against httpx.MockTransport (no sockets)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from orchestrator import errors
from orchestrator.client import (
    DEFAULT_BASE_URL,
    Client,
    ExtendRequest,
    Task,
    VideoRequest,
    classify_failure,
)
from orchestrator.model import Settings

KEY = "sk-unit0123456789abcdef"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Recorder:
    """A MockTransport handler that records requests and replays canned responses."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def body(self, i: int = 0) -> Any:
        return json.loads(self.requests[i].content)


def envelope(code: int = 1, result: Any = "1712345678901", **props: Any) -> httpx.Response:
    return httpx.Response(
        200, json={"code": code, "description": "x", "result": result, "properties": props}
    )


def client_with(rec: Recorder, cdn: Recorder | None = None) -> Client:
    return Client(
        KEY,
        "https://gw.example/",
        transport=httpx.MockTransport(rec),
        download_transport=httpx.MockTransport(cdn or rec),
    )


async def call(rec: Recorder, fn: Callable[[Client], Coroutine[Any, Any, Any]]) -> Any:
    async with client_with(rec) as client:
        return await fn(client)


def video(**settings: Any) -> VideoRequest:
    return VideoRequest(
        "https://cdn.example/a.png", "slow orbit", Settings(**settings), state="job-a1"
    )


# --- request shapes ------------------------------------------------------------------------------


def test_create_video_sends_the_documented_body_auth_and_idempotency_key() -> None:
    rec = Recorder(envelope(result=1712345678901))
    task_id = run(call(rec, lambda c: c.create_video(video(batch_size=2, motion="high"))))
    assert task_id == "1712345678901"
    req = rec.requests[0]
    assert req.method == "POST" and str(req.url) == "https://gw.example/mj/submit/video"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.headers["Idempotency-Key"] == "job-a1"
    assert rec.body() == {
        "prompt": "https://cdn.example/a.png slow orbit",
        "image": "https://cdn.example/a.png",
        "motion": "high",
        "videoType": "vid_1.1_i2v_480",
        "mode": "fast",
        "animateMode": "manual",
        "batchSize": 2,
        "loop": False,
        "state": "job-a1",
    }


def test_auto_animate_sends_the_url_alone_and_raw_goes_last() -> None:
    rec = Recorder(envelope(), envelope())
    req = VideoRequest("https://x/a.png", None, Settings(animate="auto", raw=True), "https://x/b")
    run(call(rec, lambda c: c.create_video(req)))
    run(call(rec, lambda c: c.create_video(video(raw=True, loop=True))))
    assert rec.body(0)["prompt"] == "https://x/a.png --raw"
    assert rec.body(0)["endImage"] == "https://x/b"
    assert "Idempotency-Key" not in rec.requests[0].headers
    assert rec.body(1)["prompt"] == "https://cdn.example/a.png slow orbit --raw"
    assert rec.body(1)["loop"] is True


def test_extend_sends_action_parent_and_index() -> None:
    rec = Recorder(envelope(code=22, result="77"))
    req = ExtendRequest("55", 1, "low", "keep going", state="job-a1-e1")
    assert run(call(rec, lambda c: c.extend_video(req))) == "77"
    assert rec.body() == {
        "action": "extend",
        "taskId": "55",
        "index": 1,
        "motion": "low",
        "prompt": "keep going",
        "state": "job-a1-e1",
    }
    assert rec.requests[0].headers["Idempotency-Key"] == "job-a1-e1"


def test_imagine_action_modal_and_upload() -> None:
    rec = Recorder(
        envelope(result=9),
        envelope(code=21, result="10"),
        envelope(result="11"),
        envelope(result=["https://cdn/u1.png", "https://cdn/u2.png"]),
    )

    async def calls(c: Client) -> list[Any]:
        return [
            await c.imagine("a red sneaker", state="img-1"),
            await c.action("9", "MJ::JOB::upsample::2::9", state="up-1"),
            await c.modal("10", "more"),
            await c.upload_images([(b"\x89PNG", "image/png"), (b"GIF8", "image/gif")]),
        ]

    assert run(call(rec, calls)) == ["9", "10", "11", ["https://cdn/u1.png", "https://cdn/u2.png"]]
    assert [r.url.path for r in rec.requests] == [
        "/mj/submit/imagine",
        "/mj/submit/action",
        "/mj/submit/modal",
        "/mj/submit/upload-discord-images",
    ]
    assert rec.body(0) == {"prompt": "a red sneaker", "state": "img-1"}
    assert rec.requests[1].headers["Idempotency-Key"] == "up-1"
    assert rec.body(2) == {"taskId": "10", "prompt": "more"}
    assert rec.body(3)["base64Array"] == [
        "data:image/png;base64,iVBORw==",
        "data:image/gif;base64,R0lGOA==",
    ]


# --- task objects --------------------------------------------------------------------------------

TASK = {
    "id": 1712345678901,
    "action": "VIDEO",
    "status": "SUCCESS",
    "progress": "100%",
    "state": "job-a1",
    "imageUrl": "https://cdn/i.mp4",
    "videoUrl": "https://cdn/v.mp4",
    "videoUrls": [{"url": "https://cdn/0.mp4"}, {"url": "https://cdn/1.mp4"}],
    "buttons": [{"customId": "MJ::JOB::video_virtual_upscale::1::x", "label": "U1"}],
    "submitTime": 1700000000000,
    "finishTime": "1700000060000",
    "failReason": "",
}


def fetched(task: dict[str, Any]) -> Task:
    return run(call(Recorder(httpx.Response(200, json=task)), lambda c: c.fetch_task("1")))


def test_fetch_normalises_numeric_ids_and_times() -> None:
    task = fetched(TASK)
    assert task.id == "1712345678901" and task.state == "job-a1"
    assert task.succeeded and task.terminal and not task.failed
    assert task.clip_urls == ("https://cdn/0.mp4", "https://cdn/1.mp4")
    assert task.buttons == ("MJ::JOB::video_virtual_upscale::1::x",)
    assert (task.submit_time, task.finish_time, task.fail_reason) == (
        1700000000000,
        1700000060000,
        None,
    )


@pytest.mark.parametrize(
    ("drop", "expected"),
    [
        ((), ("https://cdn/0.mp4", "https://cdn/1.mp4")),
        (("videoUrls",), ("https://cdn/v.mp4",)),
        (("videoUrls", "videoUrl"), ("https://cdn/i.mp4",)),
        (("videoUrls", "videoUrl", "imageUrl"), ()),
    ],
)
def test_clip_urls_fall_back_in_order(drop: tuple[str, ...], expected: tuple[str, ...]) -> None:
    raw = {k: v for k, v in TASK.items() if k not in drop}
    if "videoUrls" in drop:
        raw["videoUrls"] = []  # an empty list must fall back too
    assert fetched(raw).clip_urls == expected


@pytest.mark.parametrize("status", ["", "NOT_START", "SUBMITTED", "IN_PROGRESS", "WEIRD"])
def test_unfinished_statuses_are_still_running(status: str) -> None:
    task = fetched({"id": "5", "status": status, "progress": 0})
    assert not task.terminal and not task.succeeded and not task.failed
    assert task.progress == "0%"


def test_modal_is_waiting_not_terminal() -> None:
    task = fetched({"id": "5", "status": "MODAL"})
    assert task.needs_modal and not task.terminal


def test_list_tasks_batches_ids_and_skips_the_call_when_empty() -> None:
    rec = Recorder(httpx.Response(200, json=[TASK, {"id": "2", "status": None}]))
    tasks = run(call(rec, lambda c: c.list_tasks(["1712345678901", "2", "3"])))
    assert [t.id for t in tasks] == ["1712345678901", "2"]
    assert rec.body() == {"ids": ["1712345678901", "2", "3"]}
    assert run(call(Recorder(), lambda c: c.list_tasks([]))) == []


@pytest.mark.parametrize(
    ("reason", "moderation"),
    [
        ("执行超时 5 分钟", False),
        ("Banned prompt detected: gore", True),
        ("Image denied by moderation", True),
        ("invalid_request, No start frame provided", True),
        (None, False),
    ],
)
def test_classify_failure(reason: str | None, moderation: bool) -> None:
    task = fetched({"id": "8", "status": "FAILURE", "failReason": reason})
    assert task.failed and task.terminal
    exc = classify_failure(task)
    assert isinstance(exc, errors.TaskFailedError)
    assert exc.moderation is moderation and exc.retryable is not moderation
    assert "8" in str(exc)


# --- errors --------------------------------------------------------------------------------------


def error_of(*responses: httpx.Response | Exception, submit: bool = True) -> errors.MjvError:
    rec = Recorder(*responses)
    with pytest.raises(errors.MjvError) as info:
        run(call(rec, lambda c: c.create_video(video()) if submit else c.fetch_task("1")))
    message = str(info.value)
    assert KEY not in message and "Bearer" not in message
    return info.value


QUOTA = {"description": "quota_not_enough ", "type": "upstream_error", "code": 4}


@pytest.mark.parametrize(
    ("response", "cls"),
    [
        (
            httpx.Response(
                401, json={"error": {"message": "bad token", "type": "comet_api_error"}}
            ),
            errors.AuthenticationError,
        ),
        (httpx.Response(403, text=""), errors.AuthenticationError),
        (httpx.Response(400, json=QUOTA), errors.QuotaError),
        (
            httpx.Response(400, json={**QUOTA, "description": "task_not_found "}),
            errors.TaskNotFoundError,
        ),
        (
            httpx.Response(400, json={**QUOTA, "description": "task_no_found "}),
            errors.TaskNotFoundError,
        ),
        (
            httpx.Response(400, json={**QUOTA, "description": "bind_request_body_failed "}),
            errors.InvalidRequestError,
        ),
        (httpx.Response(500, text="<html>oops</html>"), errors.ServerError),
        (httpx.Response(502), errors.ServerError),
        (httpx.Response(503, json={"error": {"message": "busy"}}), errors.ServerError),
        (envelope(code=23, result=None), errors.QueueFullError),
        (
            httpx.Response(200, json={"code": 9, "description": "Queue full, try later"}),
            errors.QueueFullError,
        ),
        (httpx.Response(200, json={"code": 9, "description": "system error"}), errors.ServerError),
        (envelope(code=3, result=None), errors.NoAccountError),
        (envelope(code=4, result=None), errors.InvalidRequestError),
        (
            httpx.Response(200, json={"code": 77, "description": "?"}),
            errors.SubmitOutcomeUnknownError,
        ),
        (httpx.Response(200, text="<html>gateway</html>"), errors.SubmitOutcomeUnknownError),
        (httpx.Response(504), errors.SubmitOutcomeUnknownError),
        (httpx.Response(524), errors.SubmitOutcomeUnknownError),
    ],
)
def test_submit_errors_are_classified(response: httpx.Response, cls: type[Exception]) -> None:
    assert type(error_of(response)) is cls


def test_stop_and_retry_flags() -> None:
    assert error_of(httpx.Response(401)).stops_run  # type: ignore[attr-defined]
    assert error_of(httpx.Response(400, json=QUOTA)).stops_run  # type: ignore[attr-defined]
    assert error_of(httpx.Response(500)).retryable  # type: ignore[attr-defined]
    assert not error_of(envelope(code=4, result=None)).retryable  # type: ignore[attr-defined]


def test_banned_prompt_carries_the_word_and_is_final() -> None:
    exc = error_of(envelope(code=24, result=None, bannedWord="gore", promptEn="gore"))
    assert isinstance(exc, errors.BannedPromptError)
    assert exc.banned_word == "gore" and not exc.retryable


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_rate_limit_carries_retry_after(header: str | None, wait: float | None) -> None:
    headers = {"Retry-After": header} if header else {}
    exc = error_of(httpx.Response(429, headers=headers), submit=False)
    assert isinstance(exc, errors.RateLimitedError) and exc.retryable
    assert exc.retry_after == wait


def test_fetch_of_an_unknown_task_and_bad_answers() -> None:
    gone = httpx.Response(400, json={**QUOTA, "description": "task_not_found "})
    assert isinstance(error_of(gone, submit=False), errors.TaskNotFoundError)
    assert isinstance(
        error_of(httpx.Response(200, text="<html/>"), submit=False), errors.ServerError
    )
    assert isinstance(
        error_of(httpx.Response(200, json={"id": None}), submit=False), errors.ServerError
    )


def test_transport_errors_after_sending_a_submit_are_outcome_unknown() -> None:
    req = httpx.Request("POST", "https://gw.example/mj/submit/video")
    for exc in (httpx.ReadTimeout("t", request=req), httpx.RemoteProtocolError("x", request=req)):
        assert type(error_of(exc)) is errors.SubmitOutcomeUnknownError


def test_transport_errors_before_sending_or_on_reads_are_server_errors() -> None:
    req = httpx.Request("POST", "https://gw.example/mj/submit/video")
    for exc in (httpx.ConnectError("refused", request=req), httpx.ConnectTimeout("t", request=req)):
        unreachable = error_of(exc)
        assert type(unreachable) is errors.ProviderUnreachableError
        assert isinstance(unreachable, errors.ServerError) and unreachable.retryable
    assert type(error_of(httpx.ReadTimeout("t", request=req), submit=False)) is errors.ServerError


def test_transport_errors_name_the_url_and_the_cause() -> None:
    req = httpx.Request("POST", "https://gw.example/mj/submit/video")
    message = str(error_of(httpx.ConnectError("Connection refused", request=req)))
    assert "POST " in message and "/mj/submit/video: ConnectError (Connection refused)" in message


def test_the_key_is_scrubbed_from_provider_messages() -> None:
    body = {"error": {"message": f"invalid key {KEY} and sk-othersecretkey99"}}
    message = str(error_of(httpx.Response(401, json=body)))
    assert "sk-othersecretkey99" not in message and "invalid key" in message


# --- downloads -----------------------------------------------------------------------------------


def test_download_streams_without_the_authorization_header() -> None:
    api, cdn = Recorder(), Recorder(httpx.Response(200, content=b"\0\0\0\x18ftypmp42" * 100))
    chunks: list[bytes] = []

    async def go() -> int:
        async with client_with(api, cdn) as c:
            return await c.download("https://gw.example/mj/image/1", chunks.append)

    assert run(go()) == 1200 and b"".join(chunks)[4:8] == b"ftyp"
    assert "Authorization" not in cdn.requests[0].headers and not api.requests


def test_download_errors() -> None:
    req = httpx.Request("GET", "https://x/1.mp4")

    async def go(url: str, *responses: httpx.Response | Exception) -> int:
        async with client_with(Recorder(), Recorder(*responses)) as c:
            return await c.download(url, lambda _: None)

    with pytest.raises(errors.DownloadError, match="404"):
        run(go("https://x/1.mp4", httpx.Response(404)))
    with pytest.raises(errors.DownloadError):
        run(go("file:///etc/passwd"))
    with pytest.raises(errors.ServerError):
        run(go("https://x/1.mp4", httpx.ReadTimeout("t", request=req)))


# --- configuration -------------------------------------------------------------------------------


def test_from_env_reads_the_key_and_base_url() -> None:
    c = Client.from_env(env={"COMETAPI_KEY": "sk-b", "MJV_BASE_URL": "http://127.0.0.1:9/"})
    assert c.base_url == "http://127.0.0.1:9"
    c2 = Client.from_env(env={"MJV_API_KEY": "sk-a", "COMETAPI_KEY": "sk-b"})
    assert c2.base_url == DEFAULT_BASE_URL
    c3 = Client.from_env(
        "https://other.example", env={"MJV_API_KEY": "sk-a", "MJV_BASE_URL": "http://x"}
    )
    assert c3.base_url == "https://other.example"
    for client in (c, c2, c3):
        run(client.aclose())


def test_the_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.ConfigError, match="MJV_API_KEY"):
        Client.from_env()
    monkeypatch.setenv("MJV_API_KEY", "sk-from-env")
    monkeypatch.setenv("MJV_TIMEOUT", "nope")
    with pytest.raises(errors.ConfigError, match="MJV_TIMEOUT"):
        Client.from_env()
    monkeypatch.setenv("MJV_TIMEOUT", "5")
    run(Client.from_env().aclose())


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("", DEFAULT_BASE_URL),
        ("sk a", DEFAULT_BASE_URL),
        ("sk-é", DEFAULT_BASE_URL),
        ("sk-a", "ftp://x"),
    ],
)
def test_bad_configuration_fails_before_any_request(key: str, url: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Client(key, url)
    assert "sk a" not in str(info.value)


def test_retry_after_as_an_http_date() -> None:
    from datetime import UTC, datetime

    from orchestrator.wire import parse_retry_after

    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 24 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 24 Nov 2026 12:01:00 -0000", now) == 60.0
