"""State operations per job on PostgreSQL vs SQLite: declare, claim, intent, task, running,
success, files (fenced, as a shared-state runner writes them).

Usage: python benchmarks/bench_store.py [--jobs N] [--url postgresql://...]
Without --url a throwaway PostgreSQL server is started from the local binaries (as the tests do).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.state import FileRecord, Store, SubmissionSpec, make_owner, open_state

STEPS = ("claim", "intent", "task", "running", "success", "files")


def steps(store: Store, owner: str) -> dict[str, Callable[[str], object]]:
    """One job's state operations after declare, in the order a runner makes them."""
    clip = FileRecord("", 0, "clip-0.mp4", "https://cdn/0.mp4", "0" * 64, 1)
    return {
        "claim": lambda key: store.claim(key, owner, 600),
        "intent": lambda key: store.record_intent(key, owner, 0.3),
        "task": lambda key: store.record_task(key, f"task-{key}", 0.3, owner=owner),
        "running": lambda key: store.record_running(key, owner=owner),
        "success": lambda key: store.record_success(key, ["https://cdn/0.mp4"], None, owner=owner),
        "files": lambda key: store.record_files(key, [clip], owner=owner),
    }


def bench(location: str, jobs: int) -> dict[str, float]:
    """Seconds per job of each operation at ``location``."""
    keys = [f"{i:064x}" for i in range(jobs)]
    specs = [SubmissionSpec(key, f"job-{i}", "video", 0, None) for i, key in enumerate(keys)]
    took: dict[str, float] = {}
    with open_state(location, "bench", default_path=Path(location)) as store:
        start = time.perf_counter()
        store.declare(specs)
        took["declare"] = time.perf_counter() - start
        for name, step in steps(store, make_owner()).items():
            start = time.perf_counter()
            for key in keys:
                step(key)
            took[name] = time.perf_counter() - start
    return {name: seconds / jobs for name, seconds in took.items()}


@contextmanager
def private_server() -> Iterator[str]:
    """A throwaway PostgreSQL server with fsync on (tests/pg_support.py), stopped afterwards."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg_support import postgres_server

    with postgres_server(durable=True) as url:
        yield url


def report(results: dict[str, dict[str, float]], jobs: int) -> None:
    """Print microseconds per job for every operation and backend."""
    names = list(results)
    print(f"{jobs} jobs; microseconds per job")
    print(f"{'operation':<10}" + "".join(f"{name:>12}" for name in names))
    for op in ("declare", *STEPS):
        print(f"{op:<10}" + "".join(f"{results[n][op] * 1e6:12.0f}" for n in names))
    totals = {name: sum(per.values()) for name, per in results.items()}
    print(f"{'total':<10}" + "".join(f"{totals[n] * 1e6:12.0f}" for n in names))
    print(f"{'jobs/s':<10}" + "".join(f"{1 / totals[n]:12.0f}" for n in names))


def main() -> None:
    """Run the benchmark on a fresh SQLite file and a fresh PostgreSQL schema."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--url", help="PostgreSQL URL (default: a throwaway local server)")
    args = parser.parse_args()
    schema = f"bench_{int(time.time())}"
    with tempfile.TemporaryDirectory() as folder:
        results = {"sqlite": bench(str(Path(folder) / "state.db"), args.jobs)}
        if args.url:
            results["postgresql"] = bench(
                f"{args.url}{'&' if '?' in args.url else '?'}schema={schema}", args.jobs
            )
        else:
            with private_server() as url:
                results["postgresql"] = bench(f"{url}&schema={schema}", args.jobs)
    report(results, args.jobs)


if __name__ == "__main__":
    main()
