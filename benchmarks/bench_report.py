"""Benchmark `mjv report`: generation time, and page load time in Chromium, for a big campaign.

A synthetic campaign of 1,000 jobs x 4 clips (base + one extension, batch of 2): a manifest that
says every job is done, and clip files that are hard links to one simulator clip. Needs Debian's
chromium (or MJV_CHROMIUM) and the playwright package (the dev extra).

    python benchmarks/bench_report.py                 # 1,000 jobs
    python benchmarks/bench_report.py --jobs 5000 --repeat 5
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestrator.cli import main
from orchestrator.engine.manifest import manifest_path, render_manifest
from orchestrator.report import REPORT_NAME
from orchestrator.report.entries import planned_entry
from orchestrator.simulator.media import PNG, clip_bytes
from orchestrator.spec import load_campaign

CHROMIUM = os.environ.get("MJV_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARGS += ["--disable-component-update", "--disable-sync", "--no-first-run"]
IMAGES = 10
PAINT = """() => Object.fromEntries(performance.getEntriesByType("paint")
  .map((entry) => [entry.name, entry.startTime]))"""
# Every card parsed and the page's script run (filters ready): DOMContentLoaded's end.
READY = "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
LOADED = "() => performance.getEntriesByType('navigation')[0].loadEventEnd"
CARDS = "(jobs) => document.querySelectorAll('article.card').length === jobs"
FILTER = """() => { const select = document.querySelector('select[data-filter="image"]');
  const start = performance.now(); select.value = select.options[1].value;
  select.dispatchEvent(new Event("input", {bubbles: true}));
  void document.body.offsetHeight; return performance.now() - start; }"""


def write_campaign(folder: Path, jobs: int) -> Path:
    """Spec, images, manifest and clip files of a finished ``jobs``-job campaign."""
    for i in range(IMAGES):
        (folder / "assets").mkdir(exist_ok=True)
        (folder / "assets" / f"img{i}.png").write_bytes(PNG)
    images = "".join(f"  img{i}: {{file: assets/img{i}.png}}\n" for i in range(IMAGES))
    values = ", ".join(str(n) for n in range(jobs // IMAGES))
    spec = folder / "spec.yaml"
    spec.write_text(
        "version: 1\ncampaign: big\ndefaults: {mode: fast, batch_size: 2}\n"
        f"pricing: {{fast: 0.3}}\nimages:\n{images}prompts:\n  orbit: 'orbit {{{{ n }}}}'\n"
        f"jobs:\n  - images: [{', '.join(f'img{i}' for i in range(IMAGES))}]\n"
        f"    prompts: [orbit]\n    matrix: {{n: [{values}]}}\n"
        "    extend:\n      - {prompt: 'and on', index: 1}\n",
        encoding="utf-8",
    )
    campaign = load_campaign(spec)
    clip = folder / "clip.mp4"
    clip.write_bytes(clip_bytes("bench", 0))
    entries = [
        _done(planned_entry(campaign, job).to_json(), campaign.output_dir, clip)
        for job in campaign.jobs
    ]
    path = manifest_path(campaign)
    path.write_text(render_manifest({"manifest_version": 1, "jobs": entries}), encoding="utf-8")
    return spec


def _done(entry: dict[str, Any], out: Path, clip: Path) -> dict[str, Any]:
    folder = out / entry["output"]
    folder.mkdir(parents=True)
    for step in entry["steps"]:
        prefix = "" if step["step"] == 0 else f"ext{step['step']}-"
        step["files"] = [_link(folder / f"{prefix}clip-{i}.mp4", clip, i) for i in range(2)]
        step["status"] = "downloaded"
    return {**entry, "status": "done"}


def _link(path: Path, clip: Path, index: int) -> dict[str, Any]:
    os.link(clip, path)
    size = clip.stat().st_size
    return {"index": index, "name": path.name, "url": "u", "sha256": "s", "bytes": size}


def time_generation(spec: Path, repeat: int) -> list[float]:
    """Seconds of each in-process `mjv report SPEC` (load spec, read manifest, render, write)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        code = main(["report", str(spec)], io.StringIO(), sys.stderr)
        times.append(time.perf_counter() - start)
        if code:
            raise SystemExit(f"mjv report failed with exit code {code}")
    return times


def time_page(page_path: Path, jobs: int, repeat: int) -> list[dict[str, float]]:
    """Per load: first paint, all cards present, load (ms from navigation), one filter (ms)."""
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_path.as_uri(), wait_until="commit")
            page.wait_for_function(CARDS, arg=jobs)
            page.wait_for_load_state("load")
            paint = page.evaluate(PAINT)
            runs.append({"first_paint_ms": paint.get("first-paint", -1.0),
                         "cards_ms": page.evaluate(READY), "load_ms": page.evaluate(LOADED),
                         "filter_ms": page.evaluate(FILTER)})  # fmt: skip
            page.close()
        browser.close()
    return runs


def main_bench() -> None:
    """Build the campaign, time generation and page loads, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs, a multiple of 10")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        spec = write_campaign(Path(temp), args.jobs)
        generation = time_generation(spec, args.repeat)
        page = spec.parent / "out" / "big" / REPORT_NAME
        loads = time_page(page, args.jobs, args.repeat)
        figures = {
            "jobs": args.jobs,
            "clips": args.jobs * 4,
            "html_kb": round(page.stat().st_size / 1000),
            "generate_s": round(statistics.median(generation), 3),
            **{key: round(statistics.median(r[key] for r in loads)) for key in loads[0]},
        }
    print(json.dumps(figures))
    print(
        f"{figures['jobs']} jobs, {figures['clips']} clips: report.html {figures['html_kb']} kB "
        f"written in {figures['generate_s']:.2f} s; Chromium: first paint "
        f"{figures['first_paint_ms']} ms, all cards {figures['cards_ms']} ms, "
        f"load {figures['load_ms']} ms, "
        f"a filter {figures['filter_ms']} ms (medians of {args.repeat})"
    )


if __name__ == "__main__":
    main_bench()
