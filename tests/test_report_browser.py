"""`mjv report` in a real browser: Debian's Chromium driven by Playwright, from file://."""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runsupport import FAST, mjv, write

from orchestrator.commands import run as run_command
from orchestrator.simulator.media import clip_bytes

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("MJV_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SPEC = """\
version: 1
campaign: look
defaults: {mode: fast, motion: low, batch_size: 2}
pricing: {fast: 0.3}
images:
  red: {file: assets/red.png}
  blue: {file: assets/blue.png}
prompts:
  orbit: "slow orbit, {{ mood }} light <b>not bold</b>"
jobs:
  - images: [red]
    prompts: [orbit]
    matrix: {mood: [warm, cold]}
    takes: 2
    extend:
      - {prompt: "keeps orbiting", index: 1}
  - images: [blue]
    prompts: [orbit]
    matrix: {mood: [warm]}
"""
JOBS = ["blue-orbit-warm", "red-orbit-cold-1", "red-orbit-cold-2", "red-orbit-warm-1"]
JOBS.append("red-orbit-warm-2")

# Loads every clip and plays it muted; resolves to [videoWidth, played] per video.
PLAY_ALL = """() => Promise.all(Array.from(document.querySelectorAll("video"), (v) =>
  new Promise((ok, fail) => {
    v.muted = true;
    v.addEventListener("loadeddata", () => v.play().then(() => ok([v.videoWidth, true]), fail),
      {once: true});
    v.addEventListener("error", () => fail(new Error(v.src + ": " + v.error.code)));
    v.load();
  })))"""
VISIBLE = """() => Array.from(document.querySelectorAll("article.card"))
  .filter((card) => card.offsetParent !== null).map((card) => card.dataset.name)"""


def png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (160, 90)) -> Path:
    """Write a PNG: a horizontal gradient from black to ``rgb``."""
    width, height = size
    row = b"".join(bytes(c * x // width for c in rgb) for x in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    return path


@pytest.fixture(scope="module")
def chromium(simulated_report: Path) -> Iterator[Any]:
    """A headless Chromium; skipped without one, except in CI (CI set), where that fails.

    Started after the simulated run: Playwright's sync API keeps an event loop running in this
    thread, where `mjv run` could no longer call asyncio.run.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def simulated_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run SPEC with --simulate (tasks of 0.05 s), then `mjv report --simulate`."""
    root = tmp_path_factory.mktemp("campaign")
    png(root / "assets" / "red.png", (220, 60, 40))
    png(root / "assets" / "blue.png", (40, 90, 230))
    spec = write(root / "spec.yaml", SPEC)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_command, "SIMULATED_JOB_SECONDS", 0.05)
        ran = mjv("run", str(spec), "--simulate", "--quiet", *FAST, "--concurrency", "8")
    page = root / "out" / "look-simulated" / "report.html"
    assert ran.code == 0, ran.err
    assert f"report: {page}" in ran.out
    page.unlink()
    made = mjv("report", str(spec), "--simulate")
    assert made.code == 0 and made.out == f"report: {page}\n"
    return page


class Visit:
    """A page of the report, with its console errors and any non-file request."""

    def __init__(self, browser: Any, path: Path, width: int = 1280) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.page.set_default_timeout(5000)
        self.errors: list[str] = []
        self.remote: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", self._request)
        self.page.goto(path.as_uri())

    def _request(self, request: Any) -> None:
        if not request.url.startswith("file:"):
            self.remote.append(request.url)

    def visible(self) -> list[str]:
        """Names of the cards shown, in page order."""
        names: list[str] = self.page.evaluate(VISIBLE)
        return names

    def videos(self) -> int:
        """How many clips are live <video> elements (the rest wait in their template)."""
        count: int = self.page.locator("video").count()
        return count

    def show_all_clips(self) -> None:
        """Scroll every card into view, so that each one's clips become videos."""
        cards = self.page.locator("article.card")
        for i in range(cards.count()):
            cards.nth(i).scroll_into_view_if_needed()
        self.page.wait_for_function("() => !document.querySelector('.clips.lazy')")

    def choose(self, key: str, value: str) -> None:
        """Pick ``value`` ("" for all) in the filter select ``key``."""
        self.page.select_option(f'select[data-filter="{key}"]', "=" + value if value else "")


def test_every_card_and_clip_in_chromium(chromium: Any, simulated_report: Path) -> None:
    visit = Visit(chromium, simulated_report)
    assert visit.visible() == JOBS
    visit.show_all_clips()
    played = visit.page.evaluate(PLAY_ALL)
    assert len(played) == 2 * 2 * 4 + 2  # 4 red jobs x 2 steps x 2 clips, blue: 2 clips
    assert all(width == 854 and ok for width, ok in played)
    assert visit.page.locator(".clip.final").count() == 4 * 2 + 2
    assert visit.errors == [] and visit.remote == []
    if os.environ.get("MJV_SCREENSHOT") == "1":
        visit.page.evaluate("window.scrollTo(0, 0)")
        visit.page.screenshot(path=str(REPO / "docs" / "images" / "report.png"))
    visit.page.close()


def test_filters_search_sort_and_takes(chromium: Any, simulated_report: Path) -> None:
    visit = Visit(chromium, simulated_report)
    visit.choose("image", "blue")
    assert visit.visible() == ["blue-orbit-warm"]
    assert visit.page.text_content("#shown") == "1 of 5 jobs"
    visit.choose("image", "")
    visit.choose("status", "new")
    assert visit.visible() == []
    visit.choose("status", "done")
    visit.page.fill("#search", "COLD orbit")
    assert visit.visible() == ["red-orbit-cold-1", "red-orbit-cold-2"]
    visit.page.fill("#search", "")
    visit.page.select_option("#sort", "cost")  # blue has no extension: it costs less
    assert visit.visible()[0] == "blue-orbit-warm"
    visit.page.check("#group")
    groups = visit.page.eval_on_selector_all(
        "section.group", "all => all.map(s => Array.from(s.children, c => c.dataset.name))"
    )
    assert groups == [["blue-orbit-warm"], JOBS[1:3], JOBS[3:5]]
    assert visit.errors == []
    visit.page.close()


def test_matrix_filter_and_versions_from_a_manifest(chromium: Any, tmp_path: Path) -> None:
    png(tmp_path / "assets" / "red.png", (220, 60, 40))
    png(tmp_path / "assets" / "blue.png", (40, 90, 230))
    spec = write(tmp_path / "spec.yaml", SPEC)
    out = tmp_path / "out" / "look"
    jobs = [_entry(out, name, mood) for name, mood in (("a", "warm"), ("b", "cold"), ("z", "warm"))]
    write(out / "manifest.json", json.dumps({"manifest_version": 1, "jobs": jobs}))
    assert mjv("report", str(spec)).code == 0
    visit = Visit(chromium, out / "report.html", width=390)  # a phone
    assert visit.visible() == sorted(["a", "b", "z", *JOBS])
    assert 0 < visit.videos() < 3  # the cards far below wait to become videos
    visit.show_all_clips()
    assert visit.videos() == 3
    visit.choose("m0", "cold")
    # The spec's own jobs carry their matrix row too (Job.matrix): the cold ones stay.
    assert visit.visible() == ["b", "red-orbit-cold-1", "red-orbit-cold-2"]
    visit.page.click("article:not([hidden]) details.versions summary")
    link = visit.page.locator("article:not([hidden]) details.versions a")
    assert link.is_visible() and link.get_attribute("href") == "b/versions/0123456789ab/clip-0.mp4"
    width = visit.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling on a phone
    assert visit.errors == [] and visit.remote == []
    visit.page.close()


def _entry(out: Path, name: str, mood: str) -> dict[str, Any]:
    clip = clip_bytes(name, 0)
    write(out / name / "clip-0.mp4", "").write_bytes(clip)
    old = {"name": "versions/0123456789ab/clip-0.mp4", "sha256": "s", "bytes": 1}
    step = {"step": 0, "prompt": "p", "motion": "low", "index": 0, "status": "downloaded"}
    files = [{"index": 0, "name": "clip-0.mp4", "url": "u", "sha256": "s", "bytes": len(clip)}]
    return {
        "name": name,
        "output": name,
        "image": {"name": "red", "kind": "file", "sha256": "s"},
        "status": "done",
        "take": 1,
        "matrix": {"mood": mood},
        "steps": [{**step, "files": files}],
        "versions": [{"fingerprint": "0123456789ab" * 5, "files": [old]}],
    }
