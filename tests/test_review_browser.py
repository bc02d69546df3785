"""`mjv review` in a real browser: approve by click and by keyboard, the file changes, foreign
writes are refused; then plan, run and export follow the approval."""

from __future__ import annotations

import csv
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from runsupport import manifest, mjv, run_spec, simulator, write

from orchestrator.simulator import Simulator

__all__ = ["simulator"]

CHROMIUM = Path(os.environ.get("MJV_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHOWN = """() => Array.from(document.querySelectorAll("figure.clip"))
  .filter((clip) => clip.offsetParent !== null).map((clip) => clip.dataset.clip)"""
SPEC = """\
version: 1
campaign: pick
defaults: {mode: fast, motion: low, batch_size: 2}
pricing: {fast: 0.4}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
export:
  name: "{{ job }}-{{ stars }}stars.mp4"
jobs:
  - name: "hero-{{ take }}"
    images: [a]
    prompts: [orbit]
    takes: 2
    extend:
      - {prompt: "keeps orbiting", index: approved}
"""


def _browser() -> Any:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def expect(locator: Any) -> Any:
    """Playwright's assertions: they wait for the page to reach the state, then check it."""
    from playwright.sync_api import expect as wait_for

    return wait_for(locator)


@pytest.fixture
def ran(simulator: Simulator, tmp_path: Path) -> Path:
    """SPEC run once against the simulator: every base clip there, every extension waiting."""
    spec = write(tmp_path / "pick.yaml", SPEC)
    assert run_spec(simulator, spec, "--quiet").code == 0
    return spec


@pytest.fixture
def review_server(ran: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`mjv review pick.yaml --no-open` in a child process; yields its URL and the process."""
    env = {**os.environ, "MJV_REVIEWER": "tester"}
    child = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "review", "pick.yaml", "--no-open"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    url = child.stdout.readline().strip()  # the first line, printed once it listens
    assert url.startswith("http://127.0.0.1:") and "token=" in url, child.stderr
    yield url, child
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
    child.communicate(timeout=30)  # waits, and closes its pipes


def _verdicts(root: Path) -> dict[str, Any]:
    clips: dict[str, Any] = yaml.safe_load((root / "pick.review.yaml").read_text())["clips"]
    return clips


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port)
    data = json.dumps(body)
    connection.request(
        "POST", "/api/verdict", data, {"Content-Type": "application/json", **headers}
    )
    status = connection.getresponse().status
    connection.close()
    return status


def _refusals(url: str, clip: str, sha256: str) -> None:
    token = url.split("token=")[1]
    body = {"clip": clip, "sha256": sha256, "verdict": "approved"}
    assert _post(url, body, {}) == 403  # no token
    assert _post(url, body, {"X-MJV-Token": "not-it"}) == 403
    foreign = {"X-MJV-Token": token, "Host": "rebind.example:80"}
    assert _post(url, body, foreign) == 403  # DNS rebinding: the right token, a foreign Host
    where = urlsplit(url)
    page = http.client.HTTPConnection(where.hostname or "", where.port)
    page.request("GET", "/hero-1/clip-0.mp4")  # media need the page's cookie too
    assert page.getresponse().status == 403
    page.close()


def test_review_in_chromium_then_plan_run_export(
    simulator: Simulator,
    tmp_path: Path,
    ran: Path,
    review_server: tuple[str, subprocess.Popen[str]],
) -> None:
    spec, (url, child) = ran, review_server
    first = {f["name"]: f for f in manifest(spec, "pick")["jobs"][0]["steps"][0]["files"]}
    with _browser() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        page.goto(url)
        assert page.locator("[data-clip]").count() == 4
        clip = page.locator('[data-clip="hero-1/clip-1.mp4"]')
        with page.expect_response("**/api/verdict") as answer:
            clip.locator('[data-verdict="approved"]').click()
        assert answer.value.status == 200
        assert _verdicts(tmp_path)["hero-1/clip-1.mp4"]["verdict"] == "approved"
        assert _verdicts(tmp_path)["hero-1/clip-1.mp4"]["by"] == "tester"
        expect(clip).to_have_attribute("data-verdict-now", "approved")  # once the page applied it

        # The keyboard, from the clip just clicked: j selects the next one (hero-2/clip-0.mp4),
        # x rejects it and moves on, 3 gives that one three stars, a approves it.
        page.locator("body").press("j")
        with page.expect_response("**/api/verdict"):
            page.locator("body").press("x")
        with page.expect_response("**/api/verdict"):
            page.locator("body").press("3")
        with page.expect_response("**/api/verdict"):
            page.locator("body").press("a")
        clips = _verdicts(tmp_path)
        assert clips["hero-2/clip-0.mp4"]["verdict"] == "rejected"
        assert (clips["hero-2/clip-1.mp4"]["verdict"], clips["hero-2/clip-1.mp4"]["stars"]) == (
            "approved",
            3,
        )
        expect(page.locator('[data-total="approved"] b')).to_have_text("2")

        # Approving a sibling takes the approval from hero-1/clip-1 (one per step).
        with page.expect_response("**/api/verdict"):
            page.locator('[data-clip="hero-1/clip-0.mp4"] [data-verdict="approved"]').click()
        expect(clip).to_have_attribute("data-verdict-now", "unreviewed")
        with page.expect_response("**/api/verdict"):
            page.locator('[data-clip="hero-1/clip-1.mp4"] [data-verdict="approved"]').click()
        expect(clip).to_have_attribute("data-verdict-now", "approved")
        page.select_option("#verdict", "approved")  # the filters act on clips
        assert page.evaluate(SHOWN) == ["hero-1/clip-1.mp4", "hero-2/clip-1.mp4"]
        page.select_option("#verdict", "")
        page.select_option("#stars", "3")
        assert page.evaluate(SHOWN) == ["hero-2/clip-1.mp4"]
        browser.close()
    _refusals(url, "hero-1/clip-0.mp4", first["clip-0.mp4"]["sha256"])
    assert child.poll() is None  # refusals do not stop the server
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=30) == 0
    clips = _verdicts(tmp_path)
    assert "verdict" not in clips.get("hero-1/clip-0.mp4", {})
    _plan_run_export(simulator, spec, tmp_path)


def _plan_run_export(simulator: Simulator, spec: Path, root: Path) -> None:
    plan = json.loads(mjv("plan", str(spec), "--format", "json").out)
    work = [job for job in plan["jobs"] if job["submissions"]]
    assert [(job["name"], job["extensions"][0]["index"]) for job in work] == [
        ("hero-1", 1),
        ("hero-2", 1),
    ]
    assert plan["totals"]["video_submissions"] == 2 and plan["totals"]["cost"] == 0.8
    assert mjv("reject", str(spec), "hero-2/clip-1.mp4").code == 0  # hero-2 waits again
    plan = json.loads(mjv("plan", str(spec), "--format", "json").out)
    assert [job["name"] for job in plan["jobs"] if job["submissions"]] == ["hero-1"]
    assert (plan["totals"]["video_submissions"], plan["totals"]["cost"]) == (1, 0.4)
    assert plan["totals"]["waiting"] == 1

    before = len(simulator.submit_log())
    assert run_spec(simulator, spec, "--quiet").code == 0
    sent = simulator.submit_log()[before:]
    assert [record.route for record in sent] == ["extend"]
    hero = next(job for job in manifest(spec, "pick")["jobs"] if job["name"] == "hero-1")
    assert hero["steps"][1]["index"] == 1 and sent[0].key.startswith(
        hero["steps"][1]["fingerprint"][:32]
    )

    assert mjv("approve", str(spec), "hero-1/ext1-clip-0.mp4", "--stars", "5").code == 0
    exported = mjv("export", str(spec), str(root / "deliver"))
    assert exported.code == 0, exported.err
    made = root / "deliver" / "hero-1-5stars.mp4"
    final = hero["steps"][1]["files"][0]
    assert hashlib.sha256(made.read_bytes()).hexdigest() == final["sha256"]
    listing = json.loads((root / "deliver" / "export.json").read_text())["files"]
    assert [(f["file"], f["clip"], f["sha256"]) for f in listing] == [
        ("hero-1-5stars.mp4", "hero-1/ext1-clip-0.mp4", final["sha256"])
    ]
    with (root / "deliver" / "export.csv").open(newline="") as listed:
        rows = list(csv.DictReader(listed))
    assert rows[0]["prompts"] == "slow orbit | keeps orbiting" and rows[0]["stars"] == "5"
    assert "left out hero-2" in exported.out
    again = mjv("export", str(spec), str(root / "deliver"))
    assert again.code == 0 and "0 copied, 1 already there" in again.out and "unchanged" in again.out


def test_export_never_overwrites_a_different_file(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "pick.yaml", SPEC.replace("index: approved", "index: 0"))
    assert run_spec(simulator, spec, "--quiet").code == 0
    assert mjv("approve", str(spec), "hero-1/ext1-clip-1.mp4").code == 0
    taken = write(tmp_path / "deliver" / "hero-1-0stars.mp4", "someone else's file")
    refused = mjv("export", str(spec), str(tmp_path / "deliver"))
    assert refused.code != 0 and str(taken) in refused.err and "refusing" in refused.err
    assert taken.read_text() == "someone else's file"
    assert not (tmp_path / "deliver" / "export.json").exists()


def test_export_refuses_an_altered_source(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "pick.yaml", SPEC.replace("index: approved", "index: 0"))
    assert run_spec(simulator, spec, "--quiet").code == 0
    assert mjv("approve", str(spec), "hero-2/ext1-clip-0.mp4").code == 0
    (tmp_path / "out" / "pick" / "hero-2" / "ext1-clip-0.mp4").write_bytes(b"edited")
    refused = mjv("export", str(spec), str(tmp_path / "deliver"))
    assert refused.code != 0 and "sha256 is not the manifest's" in refused.err
    assert not (tmp_path / "deliver").exists() or not any((tmp_path / "deliver").iterdir())
