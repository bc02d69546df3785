"""Time `mjv validate` and `mjv plan --format json` on a 10,000-job campaign, and check-jsonschema.

Run: .venv/bin/python benchmarks/bench_validate.py [--runs N] [--moods 100]
With ``--moods 100`` the campaign is the 100,000-job one of the plan benchmark (templated
names ``{{ image }}-{{ prompt }}-{{ mood }}``: 100 images x 10 prompts x 100 moods).
Each command runs as a whole process (start-up included). The table shows the best and median
wall time and the median CPU time (user + system), which is steadier on a busy machine.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schema" / "campaign.schema.json"
IMAGES, PROMPTS, MOODS = 100, 10, 10  # 100 x 10 x 10 = 10,000 jobs


def campaign_yaml(moods: int = MOODS) -> str:
    """A spec that expands to IMAGES x PROMPTS x ``moods`` jobs, each with one extension step."""
    lines = ["version: 1", "campaign: bench", "vars: {brand: Acme}", "images:"]
    lines += [
        f'  img{i:03d}: {{url: "https://cdn.example.com/{i:03d}.png"}}' for i in range(IMAGES)
    ]
    lines.append("prompts:")
    text = "shot {i} of the {{{{ brand }}}} product, {{{{ mood }}}} light"
    lines += [f'  p{i}: "{text.format(i=i)}"' for i in range(PROMPTS)]
    lines += [
        "jobs:",
        '  - name: "{{ image }}-{{ prompt }}-{{ mood }}"',
        f"    images: [{', '.join(f'img{i:03d}' for i in range(IMAGES))}]",
        f"    prompts: [{', '.join(f'p{i}' for i in range(PROMPTS))}]",
        f"    matrix: {{mood: [{', '.join(f'mood{i}' for i in range(moods))}]}}",
        "    extend: [{}]",
    ]
    return "\n".join(lines) + "\n"


def measure(command: list[str], runs: int, ok: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` runs of ``command``; exits on an unexpected exit code."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode != ok:
            sys.exit(f"{command} exited {result.returncode}: {result.stderr.decode()[-500:]}")
    return walls, cpus


def main() -> None:
    """Generate the campaign, time the three commands and print a table."""
    parser = argparse.ArgumentParser(description="benchmark mjv validate and plan")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--moods", type=int, default=MOODS, help="values of the matrix axis")
    args = parser.parse_args()
    runs, moods = args.runs, args.moods
    bindir = Path(sys.executable).parent
    mjv = (
        [str(bindir / "mjv")]
        if (bindir / "mjv").exists()
        else [sys.executable, "-m", "orchestrator"]
    )
    check = shutil.which("check-jsonschema", path=str(bindir)) or "check-jsonschema"
    with tempfile.TemporaryDirectory() as folder:
        spec = str(Path(folder) / "bench.yaml")
        Path(spec).write_text(campaign_yaml(moods), encoding="utf-8")
        commands = [
            ("mjv validate", [*mjv, "validate", spec], 0),
            ("mjv plan --format json", [*mjv, "plan", "--format", "json", spec], 2),
            ("check-jsonschema", [check, "--schemafile", str(SCHEMA), spec], 0),
        ]
        results = [(name, *measure(command, runs, ok)) for name, command, ok in commands]
    jobs = IMAGES * PROMPTS * moods
    print(f"{jobs:,} jobs ({IMAGES} images x {PROMPTS} prompts x {moods} moods), {runs} runs each")
    print(f"{'command':<24}{'best wall':>10}{'median wall':>13}{'median cpu':>12}")
    for name, walls, cpus in results:
        best, median, cpu = min(walls), statistics.median(walls), statistics.median(cpus)
        print(f"{name:<24}{best:>9.2f}s{median:>12.2f}s{cpu:>11.2f}s")


if __name__ == "__main__":
    main()
