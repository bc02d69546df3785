"""The pacing benchmark with clip checks on and off (target: at most 1 % slower with them).

The real-pace scenario of bench_realpace.py (jobs of 60 s, polls every 3 s, 2 requests/s),
time-scaled by 10, 36 jobs on 3 slots; runs alternate on/off, the medians are compared. A
first unmeasured run fills the simulator's clip cache.

    python benchmarks/bench_qc_pace.py [--repeat 3] [--jobs 36] [--slots 3]
"""

from __future__ import annotations

import argparse
import statistics

from bench_run import measure

JOB_SECONDS, POLL, MAX_RPS, SCALE = 60.0, 3.0, 2.0, 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=36)
    parser.add_argument("--slots", type=int, default=3)
    args = parser.parse_args()
    pace = (JOB_SECONDS / SCALE, POLL / SCALE, MAX_RPS * SCALE)
    measure(args.jobs, args.slots, *pace, qc=True)  # warm-up: the simulator's clips made
    ratios: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeat):
        for qc in (False, True):
            figures = measure(args.jobs, args.slots, *pace, qc=qc)
            ratios[qc].append(figures.makespan)
    off, on = statistics.median(ratios[False]), statistics.median(ratios[True])
    print(
        f"{args.jobs} jobs on {args.slots} slots, x{SCALE:g}: makespan without checks "
        f"{off:.2f} s {ratios[False]}, with checks {on:.2f} s {ratios[True]}: "
        f"{(on / off - 1) * 100:+.2f} %"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
