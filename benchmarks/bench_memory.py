"""Peak memory of `mjv run` (the child process alone, from wait4) at 1,000 to 20,000 jobs.

Throughput settings (jobs of 0.05 s, 100 slots, polling every 0.05 s, no rate limit) so that
the big runs end in minutes; memory grows with the number of jobs, not with their length.
Each line also gives the peak of `mjv validate` on the same spec (the loaded campaign alone)
and the growth per 1,000 jobs over the smallest run.

    python benchmarks/bench_memory.py                     # 1,000, 10,000 and 20,000 jobs
    python benchmarks/bench_memory.py --jobs 1000 5000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_run import measure, write_spec


def validate_peak_mb(jobs: int) -> float:
    """Peak memory of `mjv validate` on the same campaign: what loading it costs."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = write_spec(Path(tmp), jobs)
        argv = [sys.executable, "-m", "orchestrator", "validate", str(spec)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
    return round(usage.ru_maxrss / 1024, 1)


def main() -> int:
    """Measure each size and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1_000, 10_000, 20_000])
    args = parser.parse_args()
    first: tuple[int, float] | None = None
    for jobs in args.jobs:
        figures = measure(jobs, 100, 0.05, 0.05)
        first = first or (jobs, figures.peak_mb)
        growth = (figures.peak_mb - first[1]) / max(1, jobs - first[0]) * 1000
        line = {
            "jobs": jobs,
            "run_peak_mb": figures.peak_mb,
            "validate_peak_mb": validate_peak_mb(jobs),
            "mb_per_1000_jobs_over_first": round(growth, 2) if jobs != first[0] else None,
            "exit_code": figures.exit_code,
            "makespan_ratio": figures.ratio,
        }
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
