"""Run `mjv` under cProfile timed by CPU, not wall-clock time: on a busy machine a wall-clock
profile charges a descheduled process's waiting to whatever call it was in.

    python benchmarks/cpu_profile.py OUT.prof run spec.yaml ...   # then: python -m pstats OUT.prof
"""

from __future__ import annotations

import cProfile
import sys
import time

from orchestrator.cli import main


def run() -> int:
    """Profile ``mjv ARGS...`` into the file named first; return mjv's exit code."""
    out, argv = sys.argv[1], sys.argv[2:]
    profile = cProfile.Profile(time.process_time)
    code = profile.runcall(main, argv)
    profile.dump_stats(out)
    return int(code)


if __name__ == "__main__":
    raise SystemExit(run())
