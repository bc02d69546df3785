"""A task that stops in MODAL: the engine answers with the job's prompt and follows the new task."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
from runsupport import run_engine, write

from orchestrator.client import Client
from orchestrator.engine.context import RunConfig
from orchestrator.spec import load_campaign
from orchestrator.state import open_store

SPEC = """\
version: 1
campaign: modal
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit"
jobs:
  - {name: "{{ image }}", images: [a], prompts: [p]}
"""
MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 32


class Gateway:
    """A provider whose video task waits for a modal answer, then finishes as a new task."""

    def __init__(self) -> None:
        self.modal_answers: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/mj-fast/mj/submit/video":
            return httpx.Response(200, json={"code": 21, "description": "modal", "result": "t1"})
        if path == "/mj-fast/mj/submit/modal":
            self.modal_answers.append(json.loads(request.content))
            return httpx.Response(200, json={"code": 1, "description": "ok", "result": "t2"})
        if path == "/mj/task/list-by-condition":
            ids = json.loads(request.content)["ids"]
            return httpx.Response(200, json=[self._task(task_id) for task_id in ids])
        if path.startswith("/cdn/"):
            return httpx.Response(200, content=MP4)
        return httpx.Response(404)

    @staticmethod
    def _task(task_id: str) -> dict[str, object]:
        if task_id == "t1":
            return {"id": "t1", "action": "VIDEO", "status": "MODAL", "progress": "0%"}
        url = "https://cdn.example.com/cdn/t2/0.mp4"
        return {
            "id": "t2",
            "action": "VIDEO",
            "status": "SUCCESS",
            "progress": "100%",
            "videoUrls": [{"url": url}],
        }


def test_a_modal_is_answered_and_the_new_task_is_followed_and_recorded(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    # The gateway charges a modal answer at its own price (API.md "Submit envelope").
    campaign = replace(load_campaign(spec), pricing={"fast": 0.6, "modal": 0.05})
    gateway = Gateway()
    transport = httpx.MockTransport(gateway)

    client = Client(
        "sk-test-modal-key", "https://gw.example", transport=transport, download_transport=transport
    )
    report = run_engine(campaign, client, tmp_path / "state.db", RunConfig(poll_interval=0.01))
    assert report.count("done") == 1
    assert report.spent == 0.65
    # Issue 17 item 7: the modal answer is a paid submission of its own (intent, hold, lease).
    with open_store(tmp_path / "state.db", campaign.name) as store:
        video, answer = sorted(store.submissions(), key=lambda s: s.kind != "video")
        (attempt,) = store.attempts(video.key)
        (answered,) = store.attempts(answer.key)
        assert store.totals().spent == 0.65
    assert (video.status, video.task_id) == ("downloaded", "t2")
    assert (answer.kind, answer.parent, answer.status) == ("modal", video.key, "succeeded")
    assert attempt.charged == 0.6 and answered.charged == 0.05
    assert gateway.modal_answers == [{"taskId": "t1", "prompt": "slow orbit"}]
    assert (tmp_path / "out/modal/a/clip-0.mp4").read_bytes() == MP4


class LostModalAnswer(Gateway):
    """The modal answer's connection drops after it was sent: it may have been charged."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/mj-fast/mj/submit/modal" and self.drop:
            self.modal_answers.append(json.loads(request.content))
            raise httpx.ReadError("connection reset after the request was sent")
        return super().__call__(request)


def _client(gateway: Gateway) -> Client:
    transport = httpx.MockTransport(gateway)
    return Client(
        "sk-test-modal-key", "https://gw.example", transport=transport, download_transport=transport
    )


def test_a_lost_modal_answer_is_in_doubt_its_charge_kept_and_never_silently_resent(
    tmp_path: Path,
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    campaign = replace(load_campaign(spec), pricing={"fast": 0.6, "modal": 0.05})
    gateway = LostModalAnswer()
    config = RunConfig(poll_interval=0.01, max_attempts=1)
    first = run_engine(campaign, _client(gateway), tmp_path / "state.db", config)
    assert first.count("in_doubt") == 1 and len(gateway.modal_answers) == 1
    with open_store(tmp_path / "state.db", campaign.name) as store:
        answer = next(s for s in store.submissions() if s.kind == "modal")
        # Sent, answer lost: its price stays held as possibly charged, never dropped.
        assert answer.in_doubt and store.totals().reserved == 0.05
    skip = replace(config, in_doubt="skip")
    assert run_engine(campaign, _client(gateway), tmp_path / "state.db", skip).count("in_doubt")
    assert len(gateway.modal_answers) == 1  # not sent again
    gateway.drop = False
    again = run_engine(campaign, _client(gateway), tmp_path / "state.db", config)
    assert again.count("done") == 1 and len(gateway.modal_answers) == 2
    assert again.resent_in_doubt == ("job a (modal answer)",)  # the summary warns of it


def test_a_modal_answer_of_unknown_price_is_counted_not_free(tmp_path: Path) -> None:
    from orchestrator.engine.status import campaign_status

    spec = write(tmp_path / "c.yaml", SPEC)
    campaign = replace(load_campaign(spec), pricing={"fast": 0.6})  # no modal price
    report = run_engine(
        campaign, _client(Gateway()), tmp_path / "state.db", RunConfig(poll_interval=0.01)
    )
    assert report.count("done") == 1 and report.spent == 0.6 and report.unpriced == 1
    with open_store(tmp_path / "state.db", campaign.name) as store:
        assert campaign_status(campaign, store).unpriced == 1
