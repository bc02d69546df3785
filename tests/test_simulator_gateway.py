"""Gateway behaviours over raw HTTP: idempotency, relay errors, queue full, quota, moderation."""

from __future__ import annotations

import threading

import httpx
import pytest
from simsupport import FakeClock, wire

from orchestrator.simulator.faults import RELAY_REASONS

JOB = 10.0


def test_by_default_a_repeated_idempotency_key_is_a_new_charged_task() -> None:
    with wire() as w:
        ids = {w.task_id(w.create(key="job-1-a1")) for _ in range(2)}
        assert len(ids) == 2 and w.sim.accepted_submissions() == {"job-1-a1": 2}


def test_a_newer_gateway_answers_a_known_key_with_code_21_uncharged() -> None:
    with wire(honor_idempotency_key=True) as w:
        first = w.create(key="job-1-a1").json()
        again = w.create(key="job-1-a1").json()
        assert again["code"] == 21 and again["result"] == first["result"]
        assert w.sim.accepted_submissions() == {"job-1-a1": 1} and len(w.sim.charges()) == 1
        assert [r.charged for r in w.sim.submit_log()] == [True, False]


def test_a_key_still_being_processed_answers_idempotency_conflict() -> None:
    with wire(honor_idempotency_key=True, slow=0.4) as w:
        answers: list[httpx.Response] = []
        threads = [
            threading.Thread(target=lambda: answers.append(w.create(key="k-a1"))) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        bodies = sorted((a.status_code, a.json().get("description")) for a in answers)
        assert bodies == [(200, "Submit success"), (400, "idempotency_conflict ")]
        assert w.sim.accepted_submissions() == {"k-a1": 1}
        assert w.create(key="k-a1").json()["code"] == 21  # released once the answer was sent


def test_relay_errors_are_http_400_code_5_and_never_charged() -> None:
    with wire(relay_error=1.0) as w:
        submit = w.create(key="k")
        fetch = w.http.get(f"{w.sim.base_url}/mj/task/1/fetch", headers=w.auth)
        listed = w.post("task/list-by-condition", {"ids": ["1"]})
        for answer in (submit, fetch, listed):
            body = answer.json()
            assert answer.status_code == 400 and body["type"] == "upstream_error"
            assert body["code"] == 5 and body["description"][:-1] in RELAY_REASONS
            assert body["description"].endswith(" ")
        assert w.sim.charges() == [] and w.sim.faults_injected() == {"relay_error": 3}
        assert [(r.status, r.code, r.charged) for r in w.sim.submit_log()] == [(400, 5, False)]


@pytest.mark.parametrize(
    ("style", "code", "text"),
    [("9", 9, "提交失败，队列已满，请稍后重试"), ("23", 23, "Queue full, please try again later")],
)
def test_queue_full_in_either_style_is_not_charged(style: str, code: int, text: str) -> None:
    with wire(queue_full=1.0, queue_full_style=style) as w:
        answer = w.create().json()
        assert (answer["code"], answer["description"], answer["result"]) == (code, text, None)
        assert w.sim.charges() == []


@pytest.mark.parametrize(
    ("style", "reason"), [("zh", "可能包含敏感词"), ("en", "Banned prompt detected")]
)
def test_a_banned_video_prompt_is_accepted_then_fails_and_is_refunded(
    style: str, reason: str
) -> None:
    clock = FakeClock()
    with wire(clock, banned_words=("gore",), moderation_style=style) as w:
        task_id = w.task_id(w.create(prompt="https://cdn.example/a.png GORE fest"))
        assert w.sim.money() == 0.6
        clock.now += JOB
        task = w.fetch(task_id)
        assert (task["status"], task["failReason"], task["videoUrls"]) == ("FAILURE", reason, None)
        assert [(c.task_id, c.refund) for c in w.sim.charges()] == [
            (task_id, False),
            (task_id, True),
        ]
        assert w.sim.money() == 0


def test_a_banned_imagine_prompt_gets_code_24_with_the_word() -> None:
    with wire(banned_words=("gore",)) as w:
        answer = w.post("submit/imagine", {"prompt": "Gore fest"}).json()
        assert answer["code"] == 24 and answer["properties"]["bannedWord"] == "gore"
        assert w.sim.charges() == []


@pytest.mark.parametrize(
    ("style", "text"), [("en", "quota_not_enough "), ("zh", "您在本站点的所余资金不足够了 ")]
)
def test_the_quota_error_speaks_the_configured_language(style: str, text: str) -> None:
    with wire(credits=1, quota_style=style) as w:
        w.task_id(w.create())
        answer = w.create()
        assert answer.status_code == 400 and answer.json()["description"] == text
        upload = w.post(
            "submit/upload-discord-images", {"base64Array": ["data:image/png;base64,AA=="]}
        )
        assert upload.status_code == 400 and len(w.sim.charges()) == 1


def test_accepted_state_unknown_is_charged_and_the_task_exists() -> None:
    with wire(state_unknown=1.0) as w:
        answer = w.create(key="k-a1")
        assert answer.status_code == 400
        assert answer.json() == {
            "description": "accepted_state_unknown ",
            "type": "upstream_error",
            "code": 4,
        }
        (charge,) = w.sim.charges()
        assert charge.key == "k-a1" and w.fetch(charge.task_id)["id"] == charge.task_id
        (record,) = w.sim.submit_log()
        assert (record.status, record.charged, record.task_id) == (400, True, charge.task_id)


def test_the_new_faults_are_reproducible_from_the_seed_and_drawn_only_when_enabled() -> None:
    def pattern(seed: int, **extra: float) -> list[tuple[int, object]]:
        options = {"relay_error": 0.2, "refusal": 0.2, "state_unknown": 0.2, "stall": 0.3}
        with wire(seed=seed, **options, **extra) as w:
            answers = [w.create().json() for _ in range(30)]
        return [(a.get("code"), a.get("description") or a.get("success")) for a in answers]

    assert pattern(3) == pattern(3) != pattern(4)
    assert len({code for code, _ in pattern(3)}) == 4  # accepted, relay, refusal, state unknown
    assert pattern(3, fail_rate=0.0, queue_full=0.0) == pattern(3)  # disabled faults never draw
