"""The review server over loopback HTTP: what it serves, and what it refuses."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from runsupport import write

from orchestrator.results import Manifest
from orchestrator.review.server import ReviewServer
from orchestrator.review.site import Site
from orchestrator.simulator.media import PNG
from orchestrator.spec import load_campaign

SHA = "c" * 64
SPEC = """\
version: 1
campaign: pick
images:
  a: {file: a.png}
prompts:
  orbit: "slow orbit"
jobs:
  - name: hero
    images: [a]
    prompts: [orbit]
"""
TOKEN = "t0ken"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReviewServer]:
    (tmp_path / "a.png").write_bytes(PNG)
    write(tmp_path / "out" / "pick" / "hero" / "clip-0.mp4", "mp4")
    write(tmp_path / "secret.txt", "not served")
    campaign = load_campaign(write(tmp_path / "pick.yaml", SPEC))
    files = [{"index": 0, "name": "clip-0.mp4", "url": "u", "sha256": SHA, "bytes": 3}]
    step = {"step": 0, "fingerprint": "f", "status": "downloaded", "files": files}
    entry = {"name": "hero", "output": "hero", "status": "done", "steps": [step]}
    manifest = Manifest.from_json({"manifest_version": 1, "campaign": "pick", "jobs": [entry]})
    source = lambda: (campaign, manifest)  # noqa: E731
    site = Site(campaign, source, tmp_path / "pick.review.yaml", "tester", TOKEN)
    running = ReviewServer(site)
    running.start()
    yield running
    running.stop()


def _ask(
    server: ReviewServer, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, bytes, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body))
    connection.request(method, path, data, headers)
    answer = connection.getresponse()
    content = answer.read()
    connection.close()
    return answer.status, content, answer


def _cookie(server: ReviewServer) -> str:
    status, page, answer = _ask(server, "GET", f"/?token={TOKEN}")
    assert status == 200 and b'data-clip="hero/clip-0.mp4"' in page
    return answer.getheader("Set-Cookie", "").split(";")[0]


def test_the_page_and_its_media_need_the_token(server: ReviewServer) -> None:
    assert _ask(server, "GET", "/")[0] == 403
    assert _ask(server, "GET", "/?token=wrong")[0] == 403
    cookie = _cookie(server)
    assert _ask(server, "GET", "/hero/clip-0.mp4")[0] == 403
    status, clip, _ = _ask(server, "GET", "/hero/clip-0.mp4", Cookie=cookie)
    assert (status, clip) == (200, b"mp4")
    assert _ask(server, "GET", "/a.png", Cookie=cookie)[:2] == (200, PNG)


@pytest.mark.parametrize(
    "path", ["/secret.txt", "/../secret.txt", "/hero/../../secret.txt", "/%2e%2e/secret.txt"]
)
def test_no_request_path_reaches_the_file_system(server: ReviewServer, path: str) -> None:
    assert _ask(server, "GET", path, Cookie=_cookie(server))[0] == 404


def test_a_write_needs_the_token_the_host_and_the_origin(
    server: ReviewServer, tmp_path: Path
) -> None:
    _cookie(server)
    body = {"clip": "hero/clip-0.mp4", "sha256": SHA, "verdict": "approved"}
    assert _ask(server, "POST", "/api/verdict", body)[0] == 403
    host = f"127.0.0.1:{server.port}"
    assert (
        _ask(
            server, "POST", "/api/verdict", body, **{"X-MJV-Token": TOKEN, "Host": "evil.example"}
        )[0]
        == 403
    )
    evil = {"X-MJV-Token": TOKEN, "Origin": "http://evil.example"}
    assert _ask(server, "POST", "/api/verdict", body, **evil)[0] == 403
    assert not (tmp_path / "pick.review.yaml").exists()
    good = {"X-MJV-Token": TOKEN, "Origin": f"http://{host}"}
    status, reply, _ = _ask(server, "POST", "/api/verdict", body, **good)
    assert status == 200
    assert json.loads(reply)["clips"]["hero/clip-0.mp4"]["verdict"] == "approved"
    written = yaml.safe_load((tmp_path / "pick.review.yaml").read_text())
    assert written["clips"]["hero/clip-0.mp4"]["by"] == "tester"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        ({"clip": "hero/clip-9.mp4", "sha256": SHA}, 404),
        ({"clip": "hero/clip-0.mp4", "sha256": "d" * 64, "verdict": "approved"}, 409),
        ({"clip": "hero/clip-0.mp4", "sha256": SHA, "verdict": "maybe"}, 400),
        ({"clip": "hero/clip-0.mp4", "sha256": SHA, "stars": 9}, 400),
        ({"clip": "hero/clip-0.mp4", "sha256": SHA, "note": "\ud800"}, 400),
    ],
)
def test_bad_writes_are_refused_and_change_nothing(
    server: ReviewServer, tmp_path: Path, body: Any, status: int
) -> None:
    _cookie(server)
    assert _ask(server, "POST", "/api/verdict", body, **{"X-MJV-Token": TOKEN})[0] == status
    assert not (tmp_path / "pick.review.yaml").exists()
