"""Unit tests of the provider client against httpx.MockTransport (no sockets)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
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
    assert req.method == "POST" and str(req.url) == "https://gw.example/mj-fast/mj/submit/video"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.headers["Idempotency-Key"] == "job-a1"
    # No `mode` or `animateMode` in the body: the upstream ignores them (SubmitVideoDTO).
    assert rec.body() == {
        "prompt": "https://cdn.example/a.png slow orbit",
        "image": "https://cdn.example/a.png",
        "motion": "high",
        "videoType": "vid_1.1_i2v_480",
        "batchSize": 2,
        "loop": False,
        "state": "job-a1",
    }


@pytest.mark.parametrize("mode", ["fast", "relax", "turbo"])
def test_every_submit_of_a_mode_goes_under_its_path_prefix(mode: str) -> None:
    rec = Recorder(envelope(), envelope(), envelope(), envelope(), envelope())

    async def calls(c: Client) -> None:
        await c.create_video(video(mode=mode))
        await c.extend_video(ExtendRequest("55", 0, "low", "more", 1, mode, "k"))
        await c.imagine("a castle", mode=mode)
        await c.action("9", "MJ::JOB::upsample::1::x", mode=mode)
        await c.modal("10", "more", mode=mode)

    run(call(rec, calls))
    routes = ["video", "video", "imagine", "action", "modal"]
    assert [r.url.path for r in rec.requests] == [f"/mj-{mode}/mj/submit/{r}" for r in routes]
    assert all("mode" not in json.loads(r.content) for r in rec.requests)


def test_the_intent_hook_runs_once_just_before_the_request() -> None:
    seen: list[str] = []
    rec = Recorder(envelope())
    run(call(rec, lambda c: c.create_video(video(), lambda: seen.append("sent"))))
    assert seen == ["sent"] and len(rec.requests) == 1


def test_a_request_that_never_left_is_not_in_doubt_even_on_a_submit() -> None:
    """The hook fires only when the first byte is written (real pool): a failure before it
    means nothing was sent, so the submit is a plain connection error, not 'in doubt'."""
    seen: list[str] = []

    async def go() -> None:
        async with Client(KEY, "http://127.0.0.1:9") as client:  # nothing listens on port 9
            await client.create_video(video(), lambda: seen.append("sent"))

    with pytest.raises(errors.ProviderUnreachableError):
        run(go())
    assert seen == []


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


def test_extend_sends_action_parent_index_prompt_and_batch_size() -> None:
    rec = Recorder(envelope(code=22, result="77"))
    req = ExtendRequest("55", 1, "low", "keep going", batch_size=2, state="job-a1-e1")
    assert run(call(rec, lambda c: c.extend_video(req))) == "77"
    assert rec.body() == {
        "action": "extend",
        "taskId": "55",
        "index": 1,
        "motion": "low",
        "prompt": "keep going",
        "batchSize": 2,  # absent, the upstream makes 4 clips (SubmitVideoDTO.BatchSize = 4)
        "state": "job-a1-e1",
    }
    assert rec.requests[0].headers["Idempotency-Key"] == "job-a1-e1"


def test_an_extension_without_a_prompt_is_never_sent() -> None:
    rec = Recorder()
    with pytest.raises(ValueError, match="prompt"):
        run(call(rec, lambda c: c.extend_video(ExtendRequest("55", 0, "low", " "))))
    assert rec.requests == []


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
        "/mj-fast/mj/submit/imagine",
        "/mj-fast/mj/submit/action",
        "/mj-fast/mj/submit/modal",
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
    ("reason", "kind"),
    [
        ("执行超时 5 分钟", "timeout"),
        ("任务失败，请重试", "transient"),
        ("上游任务超时（超过1小时）", "timeout"),
        ("Banned prompt detected: gore", "moderation"),
        ("Image denied by moderation", "moderation"),
        ("可能包含敏感词", "moderation"),
        ("the prompt violates our content policy", "moderation"),
        ("sensitive content", "moderation"),
        ("invalid_request, No start frame provided", "start_frame"),
        (None, "transient"),
    ],
)
def test_classify_failure(reason: str | None, kind: str) -> None:
    task = fetched({"id": "8", "status": "FAILURE", "failReason": reason})
    assert task.failed and task.terminal
    exc = classify_failure(task)
    assert isinstance(exc, errors.TaskFailedError)
    assert exc.kind == kind
    assert exc.moderation is (kind == "moderation") and exc.retryable is not exc.moderation
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
        # API.md revision 2: trueai's and the newer gateways' texts.
        (
            httpx.Response(200, json={"code": 9, "description": "提交失败，队列已满，请稍后重试"}),
            errors.QueueFullError,
        ),
        (
            httpx.Response(400, json={**QUOTA, "description": "您在本站点的所余资金不足够了 "}),
            errors.QuotaError,
        ),
        (
            httpx.Response(400, json={**QUOTA, "description": "accepted_state_unknown "}),
            errors.SubmitOutcomeUnknownError,
        ),
        (
            httpx.Response(400, json={**QUOTA, "description": "idempotency_conflict "}),
            errors.IdempotencyConflictError,
        ),
        (
            httpx.Response(429, json={"description": "当前分组负载已饱和 ", "code": 30}),
            errors.RateLimitedError,
        ),
        (
            httpx.Response(200, json={"success": False, "code": -1, "message": "State参数过长"}),
            errors.RefusedError,
        ),
        (
            httpx.Response(
                200,
                json={
                    "success": False,
                    "code": -1,
                    "message": "账号已被临时封锁，请勿使用违规词作图",
                },
            ),
            errors.AccountLockedError,
        ),
    ],
)
def test_submit_errors_are_classified(response: httpx.Response, cls: type[Exception]) -> None:
    assert type(error_of(response)) is cls


@pytest.mark.parametrize(
    "reason",
    [
        "do_request_failed",
        "read_response_body_failed",
        "unmarshal_response_body_failed",
        "close_request_body_failed",
        "close_response_body_failed",
        "create_request_failed",
        "empty_response_body",
    ],
)
def test_relay_hiccups_are_transient_and_never_charged(reason: str) -> None:
    body = {"description": f"{reason} ", "type": "upstream_error", "code": 5}
    exc = error_of(httpx.Response(400, json=body))
    assert type(exc) is errors.RelayError and exc.retryable and not exc.stops_run


def test_an_http_200_refusal_shows_its_message_and_a_lock_stops_the_run() -> None:
    refused = {"success": False, "code": -1, "message": "State参数过长，最大255字符"}
    exc = error_of(httpx.Response(200, json=refused))
    assert "State参数过长" in str(exc) and not exc.retryable and not exc.stops_run  # type: ignore[attr-defined]
    locked = {**refused, "message": "账号已被临时封锁，请勿使用违规词作图"}
    assert error_of(httpx.Response(200, json=locked)).stops_run  # type: ignore[attr-defined]


def test_code_3_on_an_hd_request_means_no_hd_and_on_sd_no_account() -> None:
    def refuse(video_type: str) -> errors.MjvError:
        rec = Recorder(envelope(code=3, result=None))
        with pytest.raises(errors.MjvError) as info:
            run(call(rec, lambda c: c.create_video(video(video_type=video_type))))
        return info.value

    hd = refuse("vid_1.1_i2v_720")
    assert type(hd) is errors.HdUnavailableError and not hd.retryable  # type: ignore[attr-defined]
    assert "cannot make HD clips" in str(hd)
    assert type(refuse("vid_1.1_i2v_480")) is errors.NoAccountError


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
    assert (
        "POST " in message
        and "/mj-fast/mj/submit/video: ConnectError (Connection refused)" in message
    )


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
    # The Midjourney CDN filters bots: downloads look like a browser (MjImageFetchHelper.cs).
    assert cdn.requests[0].headers["User-Agent"].startswith("Mozilla/5.0")


def test_the_download_user_agent_can_be_overridden() -> None:
    cdn = Recorder(httpx.Response(200, content=b"\0\0\0\x18ftypmp42"))
    env = {"MJV_API_KEY": KEY, "MJV_USER_AGENT": "mjv-test/1"}

    async def go() -> None:
        async with Client.from_env(env=env, download_transport=httpx.MockTransport(cdn)) as c:
            await c.download("https://x/1.mp4", lambda _: None)

    run(go())
    assert cdn.requests[0].headers["User-Agent"] == "mjv-test/1"


def test_ping_is_an_authenticated_call_that_creates_nothing() -> None:
    rec = Recorder(httpx.Response(200, json=[]))
    assert run(call(rec, lambda c: c.ping())) >= 0
    assert rec.requests[0].url.path == "/mj/task/list-by-condition" and rec.body() == {"ids": []}
    with pytest.raises(errors.AuthenticationError):
        run(call(Recorder(httpx.Response(401)), lambda c: c.ping()))


def test_download_errors() -> None:
    req = httpx.Request("GET", "https://x/1.mp4")

    async def go(url: str, *responses: httpx.Response | Exception) -> int:
        async with client_with(Recorder(), Recorder(*responses)) as c:
            return await c.download(url, lambda _: None)

    for status in (403, 404, 410):
        with pytest.raises(errors.DownloadError, match=f"{status}.*expired at the provider"):
            run(go("https://x/1.mp4", httpx.Response(status)))
    with pytest.raises(errors.DownloadError, match="HTTP 500"):
        run(go("https://x/1.mp4", httpx.Response(500)))
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


def test_no_part_of_the_http_stack_is_imported_inside_the_event_loop() -> None:
    # anyio loads its parts on first use: httpcore's first request and first download then
    # imported them in the event loop, stalling the run 50-150 ms in its first round.
    code = """
import asyncio, sys
from orchestrator.client import Client
from orchestrator.errors import MjvError
from orchestrator.simulator import Simulator, SimulatorConfig

async def calls(client, url):
    answered = 0
    async with client:
        for call in (client.fetch_task("1"), client.download(url, lambda chunk: None)):
            try:
                await call
            except MjvError:  # an error answer (no such task, no such clip) is an answer
                pass
            answered += 1
    return answered

with Simulator(SimulatorConfig(api_key="sk-test-0123456789")) as sim:
    client = Client("sk-test-0123456789", sim.base_url)
    before = set(sys.modules)
    assert asyncio.run(calls(client, sim.base_url + "/cdn/none.mp4")) == 2
    stack = {"anyio", "httpcore", "httpx", "h11"}
    print(sorted(m for m in set(sys.modules) - before if m.split(".")[0] in stack))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
