"""Makespan of `mjv run` at DEFAULT pacing against a provider at real pace, time-scaled by 10.

Real pace is jobs of 60 s, polling every 3 s and 2 requests/s; here jobs take 6 s, polls come
every 0.3 s and --max-rps is 20, so every ratio to the ideal ceil(N/C) x D is the real one.
Nothing else is tuned: --concurrency is the account's slots, the bucket's burst and priorities
are the defaults. The last rows add --submit-ahead (off by default). One thing does not scale:
the burst is max(max_rps, concurrency + 1), 20 at x10 but 13 at real pace; --scale 1 shows
the real thing.

    python benchmarks/bench_realpace.py            # 36 jobs on 3 and on 12 slots
    python benchmarks/bench_realpace.py --scale 1 --slots 12 --defaults   # real pace, ~3 min
    python benchmarks/bench_realpace.py --repeat 3 # median of 3 per scenario
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from bench_run import measure

JOB_SECONDS, POLL, MAX_RPS = 60.0, 3.0, 2.0  # real pace
SCENARIOS = (
    (36, 3, ()),
    (36, 12, ()),
    (36, 3, ("--submit-ahead", "1")),
    (36, 12, ("--submit-ahead", "2")),
)


def run(
    jobs: int, slots: int, flags: tuple[str, ...], repeat: int, scale: float
) -> dict[str, object]:
    """The median run (by makespan) of ``repeat`` runs of one scenario, and every ratio."""
    pace = (JOB_SECONDS / scale, POLL / scale, MAX_RPS * scale)
    runs = [measure(jobs, slots, *pace, flags) for _ in range(repeat)]
    runs.sort(key=lambda figures: figures.ratio)
    median = runs[len(runs) // 2]
    return {"flags": " ".join(flags), "ratios": [f.ratio for f in runs], **asdict(median)}


def main() -> int:
    """Run each scenario and print one JSON line of figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario; median shown")
    parser.add_argument("--slots", type=int, help="only the scenarios with this many slots")
    parser.add_argument("--scale", type=float, default=10.0, help="time scale (1: real pace)")
    parser.add_argument("--defaults", action="store_true", help="skip the --submit-ahead rows")
    args = parser.parse_args()
    for jobs, slots, flags in SCENARIOS:
        if args.slots in (None, slots) and not (args.defaults and flags):
            figures = run(jobs, slots, flags, args.repeat, args.scale)
            print(json.dumps({"scale": args.scale, **figures}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
