"""One campaign run by 1, 2 and 4 runners sharing a state and one account, against the simulator.

The account runs at most C jobs at once (the simulator's slots, and every runner's
--concurrency), so C is the ceiling: more runners must not make a campaign slower than one.
Time is scaled by 20 from real pace (jobs of 60 s, polls every 3 s, 2 requests a second):
jobs of 3 s, polls every 0.15 s, 40 requests a second for the account.
Makespan runs from the simulator's first charged submission to the last runner's exit; the
ideal is ceil(N / C) x D. The shared state is an SQLite file (runners on one machine) unless
--url names a PostgreSQL state (each size gets a fresh schema).

    python benchmarks/bench_runners.py [--jobs 36] [--slots 6] [--url URL]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_run import KEY, write_spec

from orchestrator.simulator import Simulator, SimulatorConfig


def measure(runners: int, args: argparse.Namespace, schema: str) -> dict[str, object]:
    """Run the campaign with ``runners`` processes at once; return its figures."""
    config = SimulatorConfig(job_seconds=args.job_seconds, slots=args.slots, api_key=KEY)
    with tempfile.TemporaryDirectory() as tmp, Simulator(config) as sim:
        spec = write_spec(Path(tmp), args.jobs)
        state = f"{args.url}&schema={schema}" if args.url else str(Path(tmp) / "state.db")
        env = dict(os.environ, MJV_API_KEY=KEY, MJV_BASE_URL=sim.base_url)
        env["MJV_CLIP_MB_PER_SECOND"] = "0.05"
        argv = [sys.executable, "-m", "orchestrator", "run", str(spec), "--state", state]
        argv += ["--quiet", "--concurrency", str(args.slots), "--poll-interval", str(args.poll)]
        argv += ["--max-rps", str(args.max_rps)]
        procs = [
            subprocess.Popen(
                argv,
                env=env | {"MJV_RUNNER_NAME": f"runner{n}"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for n in range(runners)
        ]
        codes = [proc.wait() for proc in procs]
        end = time.monotonic()
        makespan = end - (sim.first_accepted_at() or end)
        ideal = math.ceil(args.jobs / args.slots) * args.job_seconds
        charged = sim.accepted_submissions()
        return {
            "runners": runners,
            "jobs": args.jobs,
            "slots": args.slots,
            "makespan": round(makespan, 3),
            "ideal": ideal,
            "ratio": round(makespan / ideal, 3),
            "peak_running": sim.peak_running(),
            "charged_twice": sum(1 for n in charged.values() if n > 1),
            "exit_codes": codes,
        }


def main() -> int:
    """Print one JSON line per number of runners."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=36)
    parser.add_argument("--slots", type=int, default=6)
    parser.add_argument("--job-seconds", type=float, default=3.0)
    parser.add_argument("--poll", type=float, default=0.15)
    parser.add_argument("--max-rps", type=float, default=40.0)
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--url", help="a postgresql:// state URL (default: an SQLite file)")
    args = parser.parse_args()
    stamp = int(time.time())
    for runners in args.runners:
        print(json.dumps(measure(runners, args, f"bench{stamp}r{runners}")), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
