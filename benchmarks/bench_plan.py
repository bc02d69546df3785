"""Time and peak memory of `mjv plan --format json` on a 100,000-job campaign.

Run: .venv/bin/python benchmarks/bench_plan.py [--jobs N] [--runs N]
Each command runs as a whole process (start-up included) writing to a file; its peak memory
is the child's own (wait4's ru_maxrss). `mjv validate` of the same spec (load, check, expand,
no output) runs alongside as the floor that the plan's output adds to. The package's bytecode
is compiled first, as an install leaves it: with PYTHONDONTWRITEBYTECODE set (as in some shells
and CI images) a stale cache would otherwise be recompiled by every run (about 60 ms).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

IMAGES, PROMPTS = 100, 10  # x moods = jobs


@dataclass(frozen=True)
class Run:
    """One measured process."""

    wall: float
    cpu: float
    peak_mb: float


def campaign_yaml(jobs: int) -> str:
    """A spec of IMAGES x PROMPTS x (jobs / 1000) moods, each job with one extension step."""
    moods = max(1, jobs // (IMAGES * PROMPTS))
    lines = ["version: 1", "campaign: bench", "vars: {brand: Acme}", "images:"]
    lines += [
        f'  img{i:03d}: {{url: "https://cdn.example.com/{i:03d}.png"}}' for i in range(IMAGES)
    ]
    lines.append("prompts:")
    text = "shot {i} of the {{{{ brand }}}} product, {{{{ mood }}}} light"
    lines += [f'  p{i}: "{text.format(i=i)}"' for i in range(PROMPTS)]
    lines += [
        "pricing: {fast: 0.6}",
        "jobs:",
        '  - name: "{{ image }}-{{ prompt }}-{{ mood }}"',
        f"    images: [{', '.join(f'img{i:03d}' for i in range(IMAGES))}]",
        f"    prompts: [{', '.join(f'p{i}' for i in range(PROMPTS))}]",
        f"    matrix: {{mood: [{', '.join(f'mood{i}' for i in range(moods))}]}}",
        "    extend: [{}]",
    ]
    return "\n".join(lines) + "\n"


def measure(command: list[str], out: Path, ok: int) -> Run:
    """One run of ``command`` with stdout to ``out``; exits on an unexpected exit code."""
    with out.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.communicate()[1]
    if proc.returncode != ok:
        sys.exit(f"{command} exited {proc.returncode}: {err.decode()[-500:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def summary(name: str, runs: list[Run]) -> str:
    """A table line: best and median wall, median CPU, peak memory."""
    walls = [run.wall for run in runs]
    cpu = statistics.median(run.cpu for run in runs)
    peak = max(run.peak_mb for run in runs)
    return (
        f"{name:24} {min(walls):8.2f}s {statistics.median(walls):10.2f}s {cpu:9.2f}s {peak:8.0f} MB"
    )


def main() -> None:
    """Write the campaign, run validate and plan --format json, check the JSON, print a table."""
    parser = argparse.ArgumentParser(description="benchmark mjv plan --format json")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    mjv = [sys.executable, "-m", "orchestrator"]
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "orchestrator", quiet=1)
    with tempfile.TemporaryDirectory() as folder:
        spec, out = Path(folder) / "bench.yaml", Path(folder) / "out.json"
        spec.write_text(campaign_yaml(args.jobs), encoding="utf-8")
        validate = [measure([*mjv, "validate", str(spec)], out, 0) for _ in range(args.runs)]
        plan_cmd = [*mjv, "plan", "--format", "json", str(spec)]
        plan = [measure(plan_cmd, out, 2) for _ in range(args.runs)]
        jobs = len(json.loads(out.read_text(encoding="utf-8"))["jobs"])
    print(f"{jobs:,} jobs, {args.runs} runs each")
    print(f"{'command':24} {'best wall':>9} {'median wall':>11} {'median cpu':>10} {'peak':>11}")
    print(summary("mjv validate", validate))
    print(summary("mjv plan --format json", plan))
    ratio = statistics.median(r.wall for r in plan) / statistics.median(r.wall for r in validate)
    print(f"plan / validate (median wall): {ratio:.2f}")


if __name__ == "__main__":
    main()
