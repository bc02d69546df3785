"""The APIMart and Kie simulator profiles follow PROVIDERS.md field by field, over raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from simsupport import IMAGE, FakeClock

from orchestrator.simulator import Simulator, SimulatorConfig

KEY = "sk-simulator"
AUTH = {"Authorization": f"Bearer {KEY}"}
MART = "/v1/midjourney/generations/video"
KIE = "/api/v1/mj/generate"
KIE_EXTEND = "/api/v1/mj/generateVideoExtend"


@contextmanager
def profile(
    name: str, clock: FakeClock, **options: Any
) -> Iterator[tuple[Simulator, httpx.Client]]:
    config = SimulatorConfig(**{"job_seconds": 10.0, "slots": 2, **options})
    with (
        Simulator(config, clock=clock, profile=name) as sim,
        httpx.Client(base_url=sim.base_url) as http,
    ):
        yield sim, http


def _mart(http: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"prompt": "orbit", "image_urls": [IMAGE], "motion": "low", "batch_size": 2, **fields}
    return http.post(MART, json={k: v for k, v in body.items() if v is not None}, headers=AUTH)


def _kie(http: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"taskType": "mj_video", "prompt": "orbit", "fileUrls": [IMAGE], "motion": "low"}
    body |= fields
    return http.post(KIE, json={k: v for k, v in body.items() if v is not None}, headers=AUTH)


def test_apimart_create_answers_the_documented_envelope_and_bills_per_clip() -> None:
    clock = FakeClock()
    with profile("apimart", clock) as (sim, http):
        answer = _mart(http, video_type="vid_1.1_i2v_720")
        assert answer.status_code == 200
        data = answer.json()
        assert data["code"] == 200 and data["data"][0]["status"] == "submitted"
        task_id = data["data"][0]["task_id"]
        assert task_id.startswith("task_")
        assert sim.money() == pytest.approx(2 * 0.40)  # 720p: 4 credits per clip, 2 clips
        clock.now = 100.0
        task = http.get(f"/v1/midjourney/{task_id}", headers=AUTH).json()
        assert task["status"] == "SUCCESS" and task["mode"] == "FAST"
        assert len(task["video_urls"]) == 2 and task["video_url"] == task["video_urls"][0]
        assert http.get(task["video_url"]).status_code == 200  # no key needed


def test_apimart_defaults_are_its_own_batch_1() -> None:
    with profile("apimart", FakeClock()) as (sim, http):
        answer = http.post(MART, json={"prompt": "orbit", "image_urls": [IMAGE]}, headers=AUTH)
        assert answer.status_code == 200
        assert sim.money() == pytest.approx(0.20)  # batch_size defaults to 1 there


@pytest.mark.parametrize(
    "fields",
    [
        {"batch_size": 3},
        {"motion": "medium"},
        {"video_type": "vid_1.1_i2v_extend_480"},
        {"animate_mode": "auto"},
        {"image_urls": [IMAGE, IMAGE]},
        {"task_id": "task_1"},
        {"prompt": ""},
        {"loop": True},
        {"end_url": 7},
    ],
)
def test_apimart_refuses_what_its_contract_does_not_allow(fields: dict[str, Any]) -> None:
    with profile("apimart", FakeClock()) as (sim, http):
        answer = _mart(http, **fields)
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
        assert sim.money() == 0


def test_apimart_errors_in_its_own_shapes() -> None:
    with profile("apimart", FakeClock(), banned_words=("gore",), credits=1) as (sim, http):
        bad_key = http.post(MART, json={}, headers={"Authorization": "Bearer sk-other"})
        assert bad_key.status_code == 401
        assert bad_key.json()["error"]["type"] == "authentication_error"
        banned = _mart(http, prompt="gore everywhere")
        assert banned.status_code == 422 and "审核" in banned.json()["error"]["message"]
        assert _mart(http).status_code == 200
        broke = _mart(http)
        assert broke.status_code == 402 and broke.json()["error"]["type"] == "payment_required"
        missing = http.get("/v1/midjourney/task_999", headers=AUTH)
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found_error"
        assert http.post("/v1/midjourney/video/extend", json={}, headers=AUTH).status_code == 404
        assert sim.money() == pytest.approx(2 * 0.20)  # only the accepted create (2 clips)


def test_apimart_failure_is_refunded_with_a_documented_reason() -> None:
    clock = FakeClock()
    with profile("apimart", clock, fail_rate=1.0) as (sim, http):
        task_id = _mart(http).json()["data"][0]["task_id"]
        clock.now = 100.0
        task = http.get(f"/v1/midjourney/{task_id}", headers=AUTH).json()
        assert task["status"] == "FAILURE"
        assert task["fail_reason"] in ("Task timeout", "Banned prompt detected")
        assert sim.money() == 0  # "failed tasks are refunded in full automatically"


def test_kie_generate_record_and_extend() -> None:
    clock = FakeClock()
    with profile("kie", clock) as (sim, http):
        answer = _kie(http, videoBatchSize=2)
        assert answer.status_code == 200 and answer.json()["code"] == 200
        task_id = answer.json()["data"]["taskId"]
        running = http.get("/api/v1/mj/record-info", params={"taskId": task_id}, headers=AUTH)
        assert running.json()["data"]["successFlag"] == 0
        clock.now = 100.0
        record = http.get("/api/v1/mj/record-info", params={"taskId": task_id}, headers=AUTH)
        data = record.json()["data"]
        assert data["successFlag"] == 1 and data["taskType"] == "mj_video"
        urls = [item["resultUrl"] for item in data["resultInfoJson"]["resultUrls"]]
        assert len(urls) == 2
        body = {"taskType": "mj_video_extend_manual", "taskId": task_id, "index": 1}
        extended = http.post(KIE_EXTEND, json={**body, "prompt": "further"}, headers=AUTH)
        assert extended.json()["code"] == 200
        assert sim.money() == pytest.approx(2 * 0.075 + 0.30)
        clock.now = 200.0
        child = extended.json()["data"]["taskId"]
        chained = http.post(
            KIE_EXTEND, json={**body, "taskId": child, "index": 0, "prompt": "more"}, headers=AUTH
        )
        assert chained.json()["code"] == 400  # only the original video record is documented


@pytest.mark.parametrize(
    "fields",
    [
        {"videoBatchSize": 3},
        {"motion": None},
        {"taskType": "mj_txt2img"},
        {"fileUrls": [IMAGE, IMAGE]},
        {"fileUrls": ["data:image/png;base64,AAAA"]},
        {"prompt": "x" * 2001},
        {"endImage": IMAGE},
    ],
)
def test_kie_refuses_what_its_contract_does_not_allow(fields: dict[str, Any]) -> None:
    with profile("kie", FakeClock()) as (sim, http):
        answer = _kie(http, **fields)
        assert answer.status_code == 200 and answer.json()["code"] == 400  # code in the body
        assert sim.money() == 0


def test_kie_failure_keeps_its_charge_and_errors_come_in_the_body() -> None:
    clock = FakeClock()
    with profile("kie", clock, fail_rate=1.0) as (sim, http):
        task_id = _kie(http).json()["data"]["taskId"]
        clock.now = 100.0
        record = http.get("/api/v1/mj/record-info", params={"taskId": task_id}, headers=AUTH)
        data = record.json()["data"]
        assert data["successFlag"] == 3 and data["errorMessage"]
        assert sim.money() == pytest.approx(0.075)  # no refund is documented
        bad_key = http.post(KIE, json={}, headers={"Authorization": "Bearer sk-other"})
        assert bad_key.status_code == 200 and bad_key.json()["code"] == 401
        gone = http.get("/api/v1/mj/record-info", params={"taskId": "nope"}, headers=AUTH)
        assert gone.json()["code"] == 404


def test_profiles_share_the_fault_options_rate_limit() -> None:
    with profile("apimart", FakeClock(), rate_limit=1.0, retry_after=3) as (sim, http):
        limited = _mart(http)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
        assert limited.json()["error"]["type"] == "rate_limit_error"
    with profile("kie", FakeClock(), rate_limit=1.0) as (sim, http):
        assert _kie(http).json()["code"] == 429
        assert sim.money() == 0


def test_apimart_forgets_a_task_after_three_days_but_keeps_its_clips() -> None:
    clock = FakeClock()
    with profile("apimart", clock) as (_sim, http):
        task_id = _mart(http).json()["data"][0]["task_id"]
        clock.now = 100.0
        url = http.get(f"/v1/midjourney/{task_id}", headers=AUTH).json()["video_url"]
        clock.now = 100.0 + 3 * 86400 + 60
        assert http.get(f"/v1/midjourney/{task_id}", headers=AUTH).status_code == 404
        assert http.get(url).status_code == 200


def test_kie_clips_are_deleted_after_fifteen_days() -> None:
    clock = FakeClock()
    with profile("kie", clock) as (_sim, http):
        task_id = _kie(http).json()["data"]["taskId"]
        clock.now = 100.0
        record = http.get("/api/v1/mj/record-info", params={"taskId": task_id}, headers=AUTH)
        url = record.json()["data"]["resultInfoJson"]["resultUrls"][0]["resultUrl"]
        assert http.get(url).status_code == 200
        clock.now = 100.0 + 15 * 86400 + 60
        assert http.get(url).status_code in (403, 404, 410)
