"""--notify URL / MJV_NOTIFY_URL: one JSON summary to a loopback webhook when a run ends; a hook
that fails or hangs changes nothing but a warning, and the URL's secret is never printed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from runsupport import mjv, run_spec, simulator, write

from orchestrator.errors import EXIT_USAGE
from orchestrator.notify import RunSummary, post, shown_url

__all__ = ["simulator"]

SPEC = """\
version: 1
campaign: told
pricing: {currency: credits}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit"
jobs:
  - {name: j1, images: [a], prompts: [p]}
"""
SECRET = "T0KEN-s3cret"


class Hook:
    """A loopback webhook: records each body; answers ``status``, or holds until released."""

    def __init__(self, status: int = 200, hang: bool = False) -> None:
        self.bodies: list[dict[str, object]] = []
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                if hang:
                    hook.release.wait(30)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{SECRET}?token={SECRET}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    served = Hook()
    yield served
    served.close()


def test_a_finished_run_posts_one_summary_with_a_text_field(
    simulator: object, hook: Hook, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    result = run_spec(simulator, spec, "--notify", hook.url)  # type: ignore[arg-type]
    assert result.code == 0, result.err
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["campaign"] == "told" and body["outcome"] == "done" and body["exit_code"] == 0
    assert (body["jobs"], body["done"], body["failed"], body["waiting"]) == (1, 1, 0, 0)
    assert body["spent"] == 0.6 and body["currency"] == "credits"
    assert str(body["report"]).endswith("report.html")
    assert body["text"] == (
        f"mjv told: done (exit 0); 1/1 done, 0 failed, 0 waiting; spent 0.60 credits; "
        f"report {body['report']}"
    )
    assert SECRET not in result.out + result.err
    assert "mjv: notified http://127.0.0.1:" in result.err


def test_the_environment_variable_names_the_hook_too(
    simulator: object, hook: Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJV_NOTIFY_URL", hook.url)
    spec = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(simulator, spec).code == 0  # type: ignore[arg-type]
    assert [body["outcome"] for body in hook.bodies] == ["done"]


def test_a_failing_hook_changes_nothing_but_a_warning(simulator: object, tmp_path: Path) -> None:
    failing = Hook(status=500)
    try:
        spec = write(tmp_path / "c.yaml", SPEC)
        result = run_spec(simulator, spec, "--notify", failing.url)  # type: ignore[arg-type]
    finally:
        failing.close()
    assert result.code == 0
    assert "warning: notification not delivered: http://127.0.0.1:" in result.err
    assert "answered HTTP 500" in result.err
    assert SECRET not in result.out + result.err


def test_a_hook_that_never_answers_is_given_up_after_the_timeout() -> None:
    hanging = Hook(hang=True)
    try:
        summary = RunSummary("c", "done", 0, 1, 1, 0, 0, 0.6, "USD", None)
        problem = post(hanging.url, summary, timeout=0.2)
    finally:
        hanging.close()
    assert problem is not None and "did not answer within 0.2 s" in problem
    assert SECRET not in problem


def test_an_unreachable_hook_is_reported_without_its_secret() -> None:
    summary = RunSummary("c", "done", 0, 1, 1, 0, 0, None, "USD", None)
    problem = post(f"http://127.0.0.1:9/{SECRET}?k={SECRET}", summary, timeout=5)
    assert problem is not None and "could not be reached" in problem
    assert SECRET not in problem
    assert "spent unknown" in summary.text()


def test_a_malformed_url_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    result = mjv("run", str(spec), "--simulate", "--notify", f"ftp://x/{SECRET}")
    assert result.code == EXIT_USAGE
    assert "notify URL must be an http:// or https:// URL" in result.err
    assert SECRET not in result.err


def test_shown_url_keeps_only_scheme_host_and_port() -> None:
    assert shown_url(f"https://hooks.slack.com/services/{SECRET}") == "https://hooks.slack.com"
    assert shown_url(f"http://u:{SECRET}@127.0.0.1:8080/x?t=1") == "http://127.0.0.1:8080"


def test_a_run_that_cannot_start_still_tells_the_hook(
    hook: Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MJV_API_KEY", raising=False)
    monkeypatch.delenv("COMETAPI_KEY", raising=False)
    spec = write(tmp_path / "c.yaml", SPEC)
    result = mjv("run", str(spec), "--base-url", "http://127.0.0.1:9", "--notify", hook.url)
    assert result.code == 1 and "no API key" in result.err
    (body,) = hook.bodies
    assert body["outcome"] == "error" and body["exit_code"] == 1 and body["spent"] is None
    assert body["text"].startswith("mjv told: error (exit 1); 0/1 done")
