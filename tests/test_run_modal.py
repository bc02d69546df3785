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
    with open_store(tmp_path / "state.db", campaign.name) as store:
        (sub,) = store.submissions()
        (attempt,) = store.attempts(sub.key)
        assert store.totals().spent == 0.65
    assert (sub.status, sub.task_id) == ("downloaded", "t2")
    assert attempt.charged == 0.65
    assert gateway.modal_answers == [{"taskId": "t1", "prompt": "slow orbit"}]
    assert (tmp_path / "out/modal/a/clip-0.mp4").read_bytes() == MP4
