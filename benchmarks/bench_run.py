"""Benchmark `mjv run` against the simulator: makespan vs the ideal, requests, CPU, memory.

The simulator runs in this process (threads); `mjv run` runs as a child process, so the child's
CPU time and peak memory (from wait4's rusage) are the engine's alone.

    python benchmarks/bench_run.py                      # the issue's scenarios
    python benchmarks/bench_run.py --jobs 200 --slots 10 --job-seconds 0.5
    python benchmarks/bench_run.py --jobs 200 --profile run.prof   # the child's CPU profile
    python benchmarks/bench_run.py --jobs 200 --no-qc              # clip checks off
    python benchmarks/bench_run.py --jobs 200 --source             # bytecode not compiled first
"""

from __future__ import annotations

import argparse
import compileall
import heapq
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orchestrator
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.state import default_state_path, open_store

KEY = "sk-bench"


@dataclass(frozen=True)
class Figures:
    """One measured run."""

    jobs: int
    slots: int
    job_seconds: float
    makespan: float  # first accepted submission to the end of the run
    ideal: float
    ratio: float
    process_seconds: float  # the whole `mjv run` process, interpreter start-up included
    process_ratio: float
    requests_per_job: float
    cpu_ms_per_job: float  # user + system
    user_ms_per_job: float
    wall_ms_per_job: float
    peak_mb: float
    exit_code: int
    # Where the time over the ideal went (ms): process start to the first task's start, a
    # slot's idle time between one task's end and the next one's start (mean, median, 90th
    # percentile), and the last task's end to the process's end (downloads, manifest, report).
    startup_ms: float
    gap_ms: tuple[float, float, float]
    tail_ms: float


def write_spec(folder: Path, jobs: int, qc: bool = True) -> Path:
    """A campaign of exactly ``jobs`` jobs: images x moods (at most 10 moods), one prompt."""
    moods = max(d for d in range(1, 11) if jobs % d == 0)
    images = jobs // moods
    lines = [
        "version: 1",
        "campaign: bench",
        f"defaults: {{mode: fast, motion: low, batch_size: 1, qc: {{enabled: {str(qc).lower()}}}}}",
        "images:",
        *[f'  i{n}: {{url: "https://cdn.example.com/{n}.png"}}' for n in range(images)],
        "prompts:",
        '  orbit: "slow orbit, {{ mood }} light"',
        "jobs:",
        '  - name: "{{ image }}-{{ mood }}"',
        f"    images: [{', '.join(f'i{n}' for n in range(images))}]",
        "    prompts: [orbit]",
        f"    matrix: {{mood: [{', '.join(f'm{n}' for n in range(moods))}]}}",
    ]
    spec = folder / "bench.yaml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


def measure(
    jobs: int,
    slots: int,
    job_seconds: float,
    poll: float,
    max_rps: float = 100_000.0,
    flags: tuple[str, ...] = (),
    profile: str | None = None,
    qc: bool = True,
) -> Figures:
    """Run one campaign of ``jobs`` jobs (``slots`` in flight) and return its figures."""
    config = SimulatorConfig(job_seconds=job_seconds, slots=slots, api_key=KEY)
    with tempfile.TemporaryDirectory() as tmp, Simulator(config) as sim:
        spec = write_spec(Path(tmp), jobs, qc)
        env = dict(os.environ, MJV_API_KEY=KEY, MJV_BASE_URL=sim.base_url)
        env.setdefault("MJV_CLIP_MB_PER_SECOND", "0.05")  # the simulator's clips are tiny
        runner = [str(Path(__file__).parent / "cpu_profile.py"), profile] if profile else []
        argv = [
            sys.executable,
            *(runner or ["-m", "orchestrator"]),
            "run",
            str(spec),
            "--quiet",
            "--concurrency",
            str(slots),
            "--poll-interval",
            str(poll),
            "--max-rps",
            str(max_rps),
            *flags,
        ]
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        end = time.monotonic()
        process = time.perf_counter() - start
        makespan = end - (sim.first_accepted_at() or end)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out, err = proc.communicate()
        if proc.returncode != 0:
            sys.stderr.write(out.decode() + err.decode())
        ideal = math.ceil(jobs / slots) * job_seconds
        cpu = usage.ru_utime + usage.ru_stime
        starts = task_starts(sim, spec)
        return Figures(
            jobs=jobs,
            slots=slots,
            job_seconds=job_seconds,
            makespan=round(makespan, 3),
            ideal=ideal,
            ratio=round(makespan / ideal, 3),
            process_seconds=round(process, 3),
            process_ratio=round(process / ideal, 3),
            requests_per_job=round(sim.total_requests() / jobs, 2),
            cpu_ms_per_job=round(1000 * cpu / jobs, 3),
            user_ms_per_job=round(1000 * usage.ru_utime / jobs, 3),
            wall_ms_per_job=round(1000 * process / jobs, 3),
            peak_mb=round(usage.ru_maxrss / 1024, 1),
            exit_code=proc.returncode,
            startup_ms=round(1000 * (starts[0] - (end - process)), 1) if starts else 0.0,
            gap_ms=slot_gaps(starts, slots, job_seconds),
            tail_ms=round(1000 * (end - starts[-1] - job_seconds), 1) if starts else 0.0,
        )


def task_starts(sim: Simulator, spec: Path) -> list[float]:
    """When each task of the run got a slot at the simulator, in order (simulator clock)."""
    with open_store(default_state_path(spec), "bench") as store:
        ids = [sub.task_id for sub in store.submissions() if sub.task_id]
    book = sim.provider.book()
    found = (book.get(task_id) for task_id in ids)
    return sorted(task.start for task in found if task is not None and task.start is not None)


def slot_gaps(starts: list[float], slots: int, seconds: float) -> tuple[float, float, float]:
    """Mean, median and 90th percentile (ms) of the wait between a slot coming free and its
    next task starting: each start takes the slot that came free first."""
    free = [starts[0]] * slots if starts else []
    gaps = []
    for number, start in enumerate(starts):
        came_free = heapq.heappop(free)
        if number >= slots:  # the first wave waits for no slot
            gaps.append(max(0.0, start - came_free))
        heapq.heappush(free, start + seconds)
    if not gaps:
        return (0.0, 0.0, 0.0)
    gaps.sort()
    ninety = gaps[int(0.9 * (len(gaps) - 1))]
    mean, median = statistics.mean(gaps), gaps[len(gaps) // 2]
    return (round(1000 * mean, 1), round(1000 * median, 1), round(1000 * ninety, 1))


def compile_bytecode() -> None:
    """Byte-compile mjv's modules, as installing it does: with PYTHONDONTWRITEBYTECODE set (as
    on the development machine) a source checkout has none, and every start compiled about a
    hundred modules (0.15-0.2 s of its 0.4-0.6 s)."""
    compileall.compile_dir(Path(orchestrator.__file__).parent, quiet=1)


def main() -> int:
    """Run the scenarios (or one given on the command line) and print a JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--job-seconds", type=float, default=0.5)
    parser.add_argument("--poll", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario; best CPU kept")
    parser.add_argument("--profile", help="write the child's CPU profile (cProfile) here")
    parser.add_argument(
        "--no-qc", action="store_true", help="clip checks off (qc: {enabled: false})"
    )
    parser.add_argument(
        "--source", action="store_true", help="leave mjv's bytecode alone (not compiled first)"
    )
    args = parser.parse_args()
    if not args.source:
        compile_bytecode()
    if args.jobs:
        scenarios = [(args.jobs, args.slots, args.job_seconds, args.poll)]
    else:
        scenarios = [(200, 10, 0.5, 0.02), (1000, 100, 0.05, 0.05), (10000, 100, 0.05, 0.05)]
    for jobs, slots, seconds, poll in scenarios:
        # On a shared machine the least disturbed run is the best estimate of the cost.
        runs = [
            measure(jobs, slots, seconds, poll, profile=args.profile, qc=not args.no_qc)
            for _ in range(args.repeat)
        ]
        best = min(runs, key=lambda figures: figures.cpu_ms_per_job)
        print(json.dumps(asdict(best)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
