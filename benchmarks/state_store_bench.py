"""Time the SQLite state store: declare N specs, then push each through its transitions.

Usage: python benchmarks/state_store_bench.py [N ...]   (default 1000 10000)
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.state import FileRecord, SubmissionSpec, make_owner, open_store


def timed(label: str, action: Callable[[], object], count: int) -> None:
    """Run ``action`` once and print its total time and time per item."""
    start = time.perf_counter()
    action()
    took = time.perf_counter() - start
    print(f"  {label:<34} {took:8.3f} s  {took / count * 1e6:8.1f} us/item")


def bench(n: int, folder: Path) -> None:
    """Declare ``n`` submissions and run each through claim/intent/task/success/files."""
    path = folder / f"state-{n}.db"
    store = open_store(path, "bench")
    owner = make_owner()
    keys = [f"{i:064x}" for i in range(n)]
    specs = [SubmissionSpec(k, f"job-{i}", "video", 0, None) for i, k in enumerate(keys)]
    print(f"n = {n}")
    timed("declare (new)", lambda: store.declare(specs), n)
    timed("declare (again, no-op)", lambda: store.declare(specs), n)

    def lifecycle() -> None:
        for i, key in enumerate(keys):
            store.claim(key, owner, 600)
            store.record_intent(key, owner, 0.2)
            store.record_task(key, f"task-{i}", 0.2)
            store.record_running(key)

    timed("claim+intent+task+running (4 tx)", lifecycle, n)

    def finish() -> None:
        for key in keys:
            store.record_success(key, [f"https://cdn/{key}/0.mp4"], None)
            store.record_files(key, [FileRecord(key, 0, "clip-0.mp4", "u", "0" * 64, 1)])

    timed("success+files (2 tx)", finish, n)
    timed("renew_leases (1 UPDATE)", lambda: store.renew_leases(owner, 600), n)
    timed("submissions()", store.submissions, n)
    timed("all_files()", store.all_files, n)
    timed("totals() x n", lambda: [store.totals() for _ in keys], n)
    store.close()
    print(f"  file size {path.stat().st_size / 1e6:.1f} MB")
    timed("reopen (quick_check)", lambda: open_store(path, "bench").close(), 1)


def main() -> None:
    """Run the benchmark for each size given on the command line."""
    sizes = [int(arg) for arg in sys.argv[1:]] or [1000, 10000]
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            bench(n, Path(folder))


if __name__ == "__main__":
    main()
