"""Provider adapters: exact bodies per provider, answers and errors mapped, identity, prices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.client import Client
from orchestrator.errors import (
    AuthenticationError,
    BannedPromptError,
    InvalidRequestError,
    ProviderError,
    QuotaError,
    RateLimitedError,
    ServerError,
    SubmitOutcomeUnknownError,
    TaskNotFoundError,
)
from orchestrator.model import ImageSource, Settings, fingerprint
from orchestrator.providers import apimart, kie
from orchestrator.providers.factory import adapter
from orchestrator.providers.pricing import price_key, split_key
from orchestrator.providers.router import Router, qualify, split_id
from orchestrator.spec.identity import job_fingerprint, job_payload
from orchestrator.wire import ExtendRequest, VideoRequest

IMAGE = "https://cdn.example/a.png"
END = "https://cdn.example/z.png"
# A typical job as mjv plans it: SD, manual, low motion, two clips.
TYPICAL = Settings(mode="fast", motion="low", batch_size=2)


def _capture(answer: dict[str, Any]) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    return seen, httpx.MockTransport(handler)


def _send(provider: str, answer: dict[str, Any], call: Callable[[Any], Any]) -> tuple[Any, Any]:
    seen, transport = _capture(answer)
    client = adapter(provider, "sk-test", "http://127.0.0.1:9", transport=transport)

    async def go() -> Any:
        try:
            return await call(client)
        finally:
            await client.aclose()

    result = asyncio.run(go())
    request = seen[0]
    body = json.loads(request.content) if request.content else None
    return result, (request.method, request.url.raw_path.decode(), body)


COMET_OK = {"code": 1, "description": "Submit success", "result": "1700000000001"}
APIMART_OK = {"code": 200, "data": [{"status": "submitted", "task_id": "task_01KV"}]}
KIE_OK = {"code": 200, "msg": "success", "data": {"taskId": "mj_task_abcdef123456"}}


def test_cometapi_body_for_a_typical_job_is_exact() -> None:
    req = VideoRequest(IMAGE, "slow orbit", TYPICAL, None, "k1")
    task, sent = _send("cometapi", COMET_OK, lambda c: c.create_video(req))
    assert task == "1700000000001"
    assert sent == (
        "POST",
        "/mj-fast/mj/submit/video",
        {
            "prompt": f"{IMAGE} slow orbit",
            "image": IMAGE,
            "motion": "low",
            "videoType": "vid_1.1_i2v_480",
            "batchSize": 2,
            "loop": False,
            "state": "k1",
        },
    )


def test_apimart_body_sends_motion_batch_and_type_its_defaults_would_change() -> None:
    req = VideoRequest(IMAGE, "slow orbit", TYPICAL, None, "k1", "apimart")
    task, sent = _send("apimart", APIMART_OK, lambda c: c.create_video(req))
    assert task == "task_01KV"
    assert sent == (
        "POST",
        "/v1/midjourney/generations/video",
        {
            "prompt": "slow orbit",
            "image_urls": [IMAGE],
            "video_type": "vid_1.1_i2v_480",
            "animate_mode": "manual",
            "motion": "low",  # APIMart's default is high
            "batch_size": 2,  # APIMart's default is 1
        },
    )


def test_apimart_end_frame_and_hd_pick_the_start_end_720_type() -> None:
    settings = Settings(video_type="vid_1.1_i2v_720", batch_size=1)
    body = apimart.video_body(VideoRequest(IMAGE, "p", settings, END, "", "apimart"))
    assert body["video_type"] == "vid_1.1_i2v_start_end_720"
    assert body["end_url"] == END


def test_kie_body_sends_type_motion_and_batch_explicitly() -> None:
    req = VideoRequest(IMAGE, "slow orbit", TYPICAL, None, "k1", "kie")
    task, sent = _send("kie", KIE_OK, lambda c: c.create_video(req))
    assert task == "mj_task_abcdef123456"
    assert sent == (
        "POST",
        "/api/v1/mj/generate",
        {
            "taskType": "mj_video",
            "prompt": "slow orbit",
            "fileUrls": [IMAGE],
            "motion": "low",  # Kie's default is high
            "videoBatchSize": 2,  # Kie's default is not documented
            "enableTranslation": False,
        },
    )


def test_kie_extension_bodies_manual_and_automatic() -> None:
    manual = ExtendRequest("mj_task_1", 1, "low", "further", 1, "fast", "k")
    assert kie.extend_body(manual) == {
        "taskType": "mj_video_extend_manual",
        "taskId": "mj_task_1",
        "index": 1,
        "prompt": "further",
    }
    auto = ExtendRequest("mj_task_1", 0, "low", "previous", 1, "fast", "k", auto=True)
    assert kie.extend_body(auto) == {
        "taskType": "mj_video_extend_auto",
        "taskId": "mj_task_1",
        "index": 0,
    }


def test_apimart_task_object_from_the_documented_success_example() -> None:
    task = apimart.parse_task(
        {
            "id": "task_xxx",
            "status": "SUCCESS",
            "action": "VIDEO",
            "mode": "FAST",
            "video_url": "https://r2.example.com/video-0.mp4",
            "video_urls": [
                "https://r2.example.com/video-0.mp4",
                "https://r2.example.com/video-1.mp4",
            ],
        }
    )
    assert task.succeeded and task.clip_urls == (
        "https://r2.example.com/video-0.mp4",
        "https://r2.example.com/video-1.mp4",
    )
    with pytest.raises(ServerError, match="unknown status"):
        apimart.parse_task({"id": "t", "status": "completed"})


def test_kie_record_flags_and_result_urls() -> None:
    def record(flag: int, **extra: Any) -> dict[str, Any]:
        return {
            "code": 200,
            "msg": "success",
            "data": {"taskId": "t1", "successFlag": flag, **extra},
        }

    urls = {"resultUrls": [{"resultUrl": "https://tempfile.aiquickdraw.com/m/x_0_0.mp4"}]}
    done = kie.parse_record(record(1, resultInfoJson=urls))
    assert done.succeeded and done.clip_urls == ("https://tempfile.aiquickdraw.com/m/x_0_0.mp4",)
    assert not kie.parse_record(record(0)).terminal
    failed = kie.parse_record(record(3, errorMessage="Banned prompt detected"))
    assert failed.failed and failed.properties["refunded"] is False  # no refund documented
    assert kie.parse_record(record(2)).fail_reason == "Task generation failed"
    with pytest.raises(TaskNotFoundError):
        kie.parse_record({"code": 404, "msg": "task not found", "data": None})
    with pytest.raises(TaskNotFoundError):  # a well-formed answer about no record
        kie.parse_record({"code": 200, "msg": "success", "data": None})
    with pytest.raises(ServerError):
        kie.parse_record({"code": 200, "msg": "success", "data": {"successFlag": 1}})


def _apimart_error(status: int, kind: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": "m", "type": kind}}


@pytest.mark.parametrize(
    ("status", "kind", "error"),
    [
        (400, "invalid_request_error", InvalidRequestError),
        (401, "authentication_error", AuthenticationError),
        (402, "payment_required", QuotaError),
        (403, "permission_error", AuthenticationError),
        (404, "not_found_error", TaskNotFoundError),
        (404, "not_found", TaskNotFoundError),
        (422, "invalid_request_error", BannedPromptError),
        (429, "rate_limit_error", RateLimitedError),
        (500, "server_error", ServerError),
        (500, "internal_error", ServerError),
    ],
)
def test_apimart_errors_map_to_mjv_errors(
    status: int, kind: str, error: type[ProviderError]
) -> None:
    found = apimart.error_of(status, _apimart_error(status, kind), "2", False)
    assert type(found) is error
    assert "apimart" in str(found)


def test_apimart_gateway_timeout_on_a_submit_is_in_doubt() -> None:
    found = apimart.error_of(504, "<html>504</html>", None, True)
    assert isinstance(found, SubmitOutcomeUnknownError)
    polled = apimart.error_of(504, "<html>504</html>", None, False)
    assert type(polled) is ServerError
    refused = apimart.error_of(502, _apimart_error(502, "bad_gateway"), None, True)
    assert type(refused) is ServerError  # an answer that says it failed: nothing was taken


@pytest.mark.parametrize(
    ("code", "msg", "error"),
    [
        (400, "bad params", InvalidRequestError),
        (400, "Your prompt was caught by our AI moderator", BannedPromptError),
        (401, "Unauthorized", AuthenticationError),
        (402, "Insufficient Credits", QuotaError),
        (404, "not found", TaskNotFoundError),
        (429, "Rate Limited", RateLimitedError),
        (455, "unavailable", ServerError),
        (500, "error", ServerError),
        (505, "disabled", InvalidRequestError),
    ],
)
def test_kie_codes_in_a_200_body_map_to_mjv_errors(
    code: int, msg: str, error: type[ProviderError]
) -> None:
    with pytest.raises(error):
        kie.submitted_id({"code": code, "msg": msg, "data": None})


def test_apimart_business_codes_in_a_200_body() -> None:
    with pytest.raises(BannedPromptError):
        apimart.submitted_id({"code": 24, "message": "banned"})
    with pytest.raises(InvalidRequestError):
        apimart.submitted_id({"code": 4, "message": "bad"})
    with pytest.raises(SubmitOutcomeUnknownError):
        apimart.submitted_id({"code": 200, "data": []})


def test_provider_keys_and_urls_come_from_their_own_variables() -> None:
    env = {"MJV_API_KEY": "sk-comet", "MJV_BASE_URL": "http://127.0.0.1:1"}
    with pytest.raises(Exception, match="MJV_APIMART_API_KEY"):
        Client.from_env(env=env, provider="apimart")
    env |= {"APIMART_API_KEY": "sk-mart", "MJV_KIE_API_KEY": "sk-kie"}
    mart = Client.from_env(env=env, provider="apimart")
    assert mart.base_url == "https://api.apimart.ai"  # MJV_BASE_URL is CometAPI's only
    env["MJV_KIE_BASE_URL"] = "http://127.0.0.1:2"
    assert Client.from_env(env=env, provider="kie").base_url == "http://127.0.0.1:2"
    assert Client.from_env(env=env).base_url == "http://127.0.0.1:1"
    for c in (mart,):
        asyncio.run(c.aclose())


def test_task_ids_keep_their_provider_and_cometapi_ids_stay_bare() -> None:
    assert qualify("cometapi", "1700") == "1700"
    assert qualify("kie", "abc") == "kie:abc"
    assert split_id("kie:abc") == ("kie", "abc")
    assert split_id("apimart:task_1") == ("apimart", "task_1")
    assert split_id("1700") == ("cometapi", "1700")
    assert split_id("other:1") == ("cometapi", "other:1")


def test_router_sends_an_extension_to_the_provider_of_its_parent() -> None:
    seen, transport = _capture(KIE_OK)
    comet_seen, comet_transport = _capture(COMET_OK)
    router = Router(
        {
            "cometapi": adapter(
                "cometapi", "sk-a", "http://127.0.0.1:9", transport=comet_transport
            ),
            "kie": adapter("kie", "sk-b", "http://127.0.0.1:8", transport=transport),
        }
    )
    req = ExtendRequest("kie:mj_task_1", 0, "low", "more", 1, "fast", "k")

    async def go() -> str:
        try:
            return await router.extend_video(req)
        finally:
            await router.aclose()

    assert asyncio.run(go()) == "kie:mj_task_abcdef123456"
    assert comet_seen == []
    assert json.loads(seen[0].content)["taskId"] == "mj_task_1"  # the provider's own id


URL = ImageSource("a", "url", url=IMAGE)


def test_cometapi_fingerprints_are_unchanged_and_others_include_the_provider() -> None:
    settings = Settings()
    old = fingerprint(
        {
            "image": {"url": IMAGE},
            "end_image": None,
            "prompt": "p",
            "settings": {
                "mode": "fast",
                "video_type": "vid_1.1_i2v_480",
                "animate": "manual",
                "motion": "low",
                "batch_size": 1,
                "loop": False,
                "raw": False,
            },
            "take": 1,
        }
    )
    assert job_fingerprint(URL, None, "p", settings, 1) == old
    assert job_fingerprint(URL, None, "p", settings, 1, "cometapi") == old
    kie_print = job_fingerprint(URL, None, "p", settings, 1, "kie")
    assert kie_print != old != job_fingerprint(URL, None, "p", settings, 1, "apimart")
    assert kie_print == fingerprint(job_payload(URL, None, "p", settings, 1, "kie"))


def test_price_keys_per_provider() -> None:
    assert price_key("cometapi", "video", "relax", "vid_1.1_i2v_720", 4) == "relax"
    assert price_key("cometapi", "imagine", "fast") == "imagine"
    assert price_key("apimart", "video", "fast", "vid_1.1_i2v_720", 4) == "apimart:fast_hd*4"
    assert price_key("apimart", "video", "fast", "vid_1.1_i2v_480", 1) == "apimart:fast"
    assert price_key("kie", "extend", "fast", "vid_1.1_i2v_480", 4) == "kie:extend"
    assert split_key("apimart:fast_hd*4") == ("apimart", "fast_hd", 4)
    assert split_key("fast") == ("cometapi", "fast", 1)


def test_spec_pricing_overrides_published_prices_per_provider(tmp_path: Path) -> None:
    from orchestrator.spec import load_campaign

    spec = tmp_path / "c.yaml"
    spec.write_text(
        "version: 1\ncampaign: c\nprovider: apimart\npricing: {fast: 0.25, kie: {fast: 0.05}}\n"
        f"images: {{a: {{url: '{IMAGE}'}}}}\nprompts: {{p: 'orbit'}}\n"
        "jobs:\n  - images: [a]\n    prompts: [p]\n    batch_size: 4\n"
        "  - name: k\n    images: [a]\n    prompts: [p]\n    provider: kie\n    batch_size: 2\n"
        "  - name: c\n    images: [a]\n    prompts: [p]\n    provider: cometapi\n"
    )
    campaign = load_campaign(spec)
    by_name = {job.name: job for job in campaign.jobs}
    assert campaign.job_price("video", by_name["a-p"]) == pytest.approx(1.0)  # flat, per clip
    assert campaign.job_price("video", by_name["k"]) == pytest.approx(0.10)  # pricing.kie
    assert campaign.job_price("video", by_name["c"]) == pytest.approx(0.6)  # published
