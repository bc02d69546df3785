"""The report's clip checks in Chromium: sorted by the lowest score, filtered to failed clips."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runsupport import write

from orchestrator.report import build_page, render_report
from orchestrator.spec import load_campaign

CHROMIUM = Path(os.environ.get("MJV_CHROMIUM", "/usr/bin/chromium"))
SPEC = """\
version: 1
campaign: scores
images:
  a: {url: "https://example.com/a.png"}
prompts:
  p: "pan {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3]}
"""
MOTION = {"j1": (0.02, True), "j2": (0.001, False), "j3": (0.01, True)}
VISIBLE = """() => Array.from(document.querySelectorAll("article.card"))
  .filter((card) => card.offsetParent !== null).map((card) => card.dataset.name)"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium; skipped without one, except in CI (CI set), where that fails."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


def _entry(job: Any) -> dict[str, Any]:
    motion, passed = MOTION[job.name]
    check = {"passed": passed, "reasons": [] if passed else ["motion low"]}
    check["scores"] = {"decodes": True, "motion": motion}
    clip = {"index": 0, "name": "clip-0.mp4", "url": "u", "sha256": "0" * 64, "bytes": 1}
    step = {"step": 0, "fingerprint": job.fingerprint, "prompt": job.prompt, "motion": "low"}
    step |= {"index": 0, "status": "downloaded", "files": [clip | {"qc": check}]}
    entry = {"name": job.name, "fingerprint": job.fingerprint, "output": job.output_name}
    return entry | {"status": "done", "steps": [step], "take": 1, "matrix": dict(job.matrix)}


def test_sort_by_least_motion_and_show_failed_only(chromium: Any, tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path / "s.yaml", SPEC))
    manifest = {"manifest_version": 1, "campaign": "scores", "totals": {}}
    manifest["jobs"] = [_entry(job) for job in campaign.jobs]
    report = tmp_path / "report.html"
    report.write_text(render_report(build_page(campaign, manifest)), encoding="utf-8")
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report.as_uri())
    page.select_option("#sort", "score:motion")
    assert page.evaluate(VISIBLE) == ["j2", "j3", "j1"]
    page.select_option("#checks", "failed")
    assert page.evaluate(VISIBLE) == ["j2"]
    page.select_option("#checks", "passed")
    assert page.evaluate(VISIBLE) == ["j3", "j1"]
    assert errors == []
    page.close()
