"""Benchmark `mjv review`: the review page of 4,000 clips in Chromium, and marking 100 by keys.

The synthetic campaign of bench_report.py (1,000 jobs x 4 clips), its manifest given real
sha256s, served by `mjv review` in a process of its own. Measured: the page's serving time,
first paint, all cards ready, and the time from the first of 100 `x` presses (reject and move
on) until all 100 verdicts are written to the review file and shown on the page. Needs Debian's
chromium (or MJV_CHROMIUM) and the playwright package (the dev extra).

    python benchmarks/bench_review.py              # 1,000 jobs, 4,000 clips
    python benchmarks/bench_review.py --jobs 2000 --repeat 5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench_report import ARGS, CARDS, CHROMIUM, PAINT, READY, write_campaign

from orchestrator.engine.manifest import manifest_path
from orchestrator.review.reviewfile import load_review, review_path
from orchestrator.spec import load_campaign

MARKS = 100
REJECTED = "() => document.querySelectorAll('figure.clip[data-verdict-now=\"rejected\"]').length"


def campaign_with_hashes(folder: Path, jobs: int) -> Path:
    """bench_report's campaign, its manifest's sha256 set to the clip files' real one."""
    spec = write_campaign(folder, jobs)
    real = hashlib.sha256((folder / "clip.mp4").read_bytes()).hexdigest()
    path = manifest_path(load_campaign(spec))
    text = path.read_text(encoding="utf-8").replace('"sha256": "s"', f'"sha256": "{real}"')
    path.write_text(text, encoding="utf-8")
    return spec


def serve(spec: Path) -> tuple[subprocess.Popen[str], str]:
    """`mjv review SPEC --no-open` in its own process, as a user runs it; its URL."""
    child = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "review", str(spec), "--no-open"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def stop(child: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user stops it."""
    child.send_signal(signal.SIGINT)
    child.communicate(timeout=60)


def time_serving(url: str) -> float:
    """Seconds to answer GET / (build the page from the manifest and the review file)."""
    start = time.perf_counter()
    with urllib.request.urlopen(url) as answer:
        answer.read()
    return time.perf_counter() - start


def time_review(url: str, jobs: int, spec: Path) -> dict[str, float]:
    """First paint and cards in Chromium; then 100 clips marked by keyboard."""
    from playwright.sync_api import sync_playwright

    review_path(spec).unlink(missing_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="commit")
        page.wait_for_function(CARDS, arg=jobs)
        page.wait_for_load_state("load")
        paint = page.evaluate(PAINT)
        figures = {
            "first_paint_ms": paint.get("first-paint", -1.0),
            "cards_ms": page.evaluate(READY),
        }
        page.keyboard.press("j")
        start = time.perf_counter()
        for _ in range(MARKS):
            page.keyboard.press("x")
        pressed = time.perf_counter() - start
        page.wait_for_function(f"() => ({REJECTED})() === {MARKS}", timeout=120_000)
        figures["keys_s"] = pressed
        figures["mark_100_s"] = time.perf_counter() - start
        browser.close()
    written = len(load_review(review_path(spec)).verdicts)
    if written != MARKS:
        raise SystemExit(f"the review file has {written} verdicts, not {MARKS}")
    return figures


def main_bench() -> None:
    """Build the campaign, serve it, time the page and the marking, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs (4 clips each), x10")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        spec = campaign_with_hashes(Path(temp), args.jobs)
        child, url = serve(spec)
        try:
            serving = [time_serving(url) for _ in range(args.repeat)]
            runs = [time_review(url, args.jobs, spec) for _ in range(args.repeat)]
        finally:
            stop(child)
    figures: dict[str, Any] = {"jobs": args.jobs, "clips": args.jobs * 4}
    figures["serve_s"] = round(statistics.median(serving), 3)
    for key in runs[0]:
        figures[key] = round(statistics.median(r[key] for r in runs), 3)
    print(json.dumps(figures))
    print(
        f"{figures['clips']} clips: page served in {figures['serve_s']:.2f} s; Chromium: first "
        f"paint {figures['first_paint_ms']:.0f} ms, all cards {figures['cards_ms']:.0f} ms; "
        f"{MARKS} clips marked by keyboard in {figures['mark_100_s']:.2f} s "
        f"({1000 * figures['mark_100_s'] / MARKS:.0f} ms a clip, written and shown; "
        f"medians of {args.repeat})"
    )


if __name__ == "__main__":
    main_bench()
