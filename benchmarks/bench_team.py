"""A team on PostgreSQL: 4 runners share one campaign through a database 10 ms away.

The database is a private PostgreSQL server reached through a loopback TCP proxy that holds
every chunk 10 ms in each direction (a database in another zone). The campaign is 36 jobs of
3 s on an account of 6 slots: the ideal makespan is ceil(N / C) x D = 18 s, from the
simulator's first charged submission to the last runner's exit. Also reported: statements and
round trips per job (the proxy reads PostgreSQL's wire protocol; SQLite's statements are
counted by a trace callback in each runner). Where the makespan went: ``last_task_end`` (the
last task's end), ``idle_slot_seconds`` (slot time left unused before it) and ``tail`` (from
it to the last runner's exit), ``first_round_s`` (the first tasks' start spread) and
``hand_over_ms`` (slot time between a task's end and the next start on its slot, mean and
median). ``--profile`` adds each store method's calls and time per job
on PostgreSQL, and when its last call ended after the last task.

    python benchmarks/bench_team.py [--runners 4] [--delay-ms 10] [--jobs 36] [--slots 6]
        [--store postgres|sqlite|both] [--profile [--trace]] [--stalls]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench_run import KEY, write_spec

from orchestrator.simulator import Simulator, SimulatorConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pg_support import postgres_server  # the tests' throwaway server

# Each runner counts its SQLite statements and appends the count to $MJV_BENCH_COUNTS.
_COUNTING_RUNNER = """
import atexit, os, sqlite3, sys
count = [0]
_connect = sqlite3.connect
def connect(*args, **kwargs):
    db = _connect(*args, **kwargs)
    db.set_trace_callback(lambda _: count.__setitem__(0, count[0] + 1))
    return db
sqlite3.connect = connect
def report():
    with open(os.environ["MJV_BENCH_COUNTS"], "a") as out:
        out.write(f"{count[0]}\\n")
atexit.register(report)
from orchestrator.cli import main
sys.exit(main())
"""

# With --profile, each runner times every SqlStore method it calls (the wall time includes
# the round trips) and appends {method: [calls, seconds]} to $MJV_BENCH_PROFILE.
_PROFILING_RUNNER = """
import atexit, functools, json, os, sys, threading, time
from orchestrator.state.sql_store import SqlStore
calls = {}
events = []  # (method, start, end): the tail's timeline with --trace
lock = threading.Lock()
def timed(name, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            with lock:
                seen = calls.setdefault(name, [0, 0.0, 0.0])
                seen[0] += 1
                seen[1] += time.monotonic() - start
                seen[2] = time.monotonic()
                events.append((name, start, seen[2]))
    return wrapper
for name in dir(SqlStore):
    if not name.startswith("_") and callable(getattr(SqlStore, name)):
        setattr(SqlStore, name, timed(name, getattr(SqlStore, name)))
from orchestrator.engine.ratelimit import TokenBucket
def waited(name, fn):  # the rate bucket's waits: submissions ("acquire") and polls
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        start = time.monotonic()
        try:
            return await fn(*args, **kwargs)
        finally:
            with lock:
                seen = calls.setdefault(name, [0, 0.0, 0.0])
                seen[0] += 1
                seen[1] += time.monotonic() - start
                seen[2] = time.monotonic()
    return wrapper
for name in ("acquire", "acquire_background"):
    setattr(TokenBucket, name, waited(f"bucket.{name}", getattr(TokenBucket, name)))
import orchestrator.qc.takes as takes
def cpu_timed(fn):  # a clip's check, in its worker thread: wall time, and its CPU in the name
    def wrapper(*args, **kwargs):
        start, cpu = time.monotonic(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            with lock:
                used = 1000 * (time.thread_time() - cpu)
                events.append((f"qc.check(cpu {used:.0f} ms)", start, time.monotonic()))
    return wrapper
takes._check = cpu_timed(takes._check)
def report():
    calls["exit"] = [0, 0.0, time.monotonic()]
    with open(os.environ["MJV_BENCH_PROFILE"], "a") as out:
        out.write(json.dumps(calls) + "\\n")
    if os.environ.get("MJV_BENCH_TRACE"):
        with open(os.environ["MJV_BENCH_TRACE"], "a") as out:
            out.write(json.dumps([os.environ["MJV_RUNNER_NAME"], events]) + "\\n")
atexit.register(report)
from orchestrator.cli import main
sys.exit(main())
"""


class DelayProxy:
    """TCP on loopback -> the server's unix socket, every chunk held ``delay`` seconds.

    Counts the client's statements (simple Query and extended Execute messages) and its round
    trips (each time the client speaks again after the server answered).
    """

    def __init__(self, socket_path: str, delay: float) -> None:
        self.socket_path = socket_path
        self.delay = delay
        self.statements = 0
        self.round_trips = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result()

    async def _listen(self) -> None:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        turn = {"server_spoke": True}
        await asyncio.gather(
            self._pipe(reader, up_writer, turn, client=True),
            self._pipe(up_reader, writer, turn, client=False),
            return_exceptions=True,
        )

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        turn: dict[str, bool],
        *,
        client: bool,
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.ensure_future(self._deliver(queue, writer))
        parser = _Messages() if client else None
        try:
            while chunk := await reader.read(65536):
                if parser is not None:
                    self.statements += parser.feed(chunk)
                    if turn["server_spoke"]:
                        self.round_trips += 1
                turn["server_spoke"] = not client
                queue.put_nowait((time.monotonic() + self.delay, chunk))
        finally:
            queue.put_nowait((0.0, b""))
            await sender

    async def _deliver(self, queue: asyncio.Queue[tuple[float, bytes]], writer: Any) -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                writer.close()
                return
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(chunk)
            await writer.drain()


class _Messages:
    """Counts Query ('Q') and Execute ('E') messages in a client's byte stream."""

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False

    def feed(self, chunk: bytes) -> int:
        self._buffer += chunk
        found = 0
        while True:
            if not self._started:  # the startup (or SSL request) message has no type byte
                if len(self._buffer) < 4:
                    return found
                size = struct.unpack("!I", self._buffer[:4])[0]
                if len(self._buffer) < size:
                    return found
                code = struct.unpack("!I", self._buffer[4:8])[0]
                self._buffer = self._buffer[size:]
                self._started = code != 80877103  # an SSLRequest is followed by the startup
                continue
            if len(self._buffer) < 5:
                return found
            size = struct.unpack("!I", self._buffer[1:5])[0]
            if len(self._buffer) < size + 1:
                return found
            found += self._buffer[:1] in (b"Q", b"E")
            self._buffer = self._buffer[size + 1 :]


@contextmanager
def team_database(delay: float) -> Iterator[tuple[str, DelayProxy]]:
    """A private server behind the delay proxy: (state URL through the proxy, the proxy)."""
    with postgres_server() as url:
        host = parse_qs(urlsplit(url).query)["host"][0]
        proxy = DelayProxy(f"{host}/.s.PGSQL.5432", delay)
        proxy.start()
        yield f"postgresql://postgres@127.0.0.1:{proxy.port}/mjvtest?sslmode=disable", proxy


def measure(
    args: argparse.Namespace, state: str, counts: Path | None, profile: Path | None = None
) -> dict[str, object]:
    """Run the campaign with ``args.runners`` processes at once; return its figures."""
    config = SimulatorConfig(job_seconds=args.job_seconds, slots=args.slots, api_key=KEY)
    with tempfile.TemporaryDirectory() as tmp, Simulator(config) as sim:
        spec = write_spec(Path(tmp), args.jobs)
        state = state or str(Path(tmp) / "state.db")
        env = dict(os.environ, MJV_API_KEY=KEY, MJV_BASE_URL=sim.base_url)
        env["MJV_CLIP_MB_PER_SECOND"] = "0.05"
        head = ["-c", _COUNTING_RUNNER] if counts else ["-m", "orchestrator"]
        if counts:
            env["MJV_BENCH_COUNTS"] = str(counts)
        if args.stalls and not counts:
            head = [str(Path(__file__).parent / "loop_stalls.py"), str(Path(tmp) / "stalls")]
        if profile:
            head = ["-c", _PROFILING_RUNNER]
            env["MJV_BENCH_PROFILE"] = str(profile)
            if args.trace:
                env["MJV_BENCH_TRACE"] = str(profile.with_suffix(".trace"))
        argv = [sys.executable, *head, "run", str(spec), "--state", state, "--quiet"]
        argv += ["--concurrency", str(args.slots), "--poll-interval", str(args.poll)]
        argv += ["--max-rps", str(args.max_rps)]
        procs = [
            subprocess.Popen(
                argv,
                env=env | {"MJV_RUNNER_NAME": f"runner{n}"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for n in range(args.runners)
        ]
        with ThreadPoolExecutor(len(procs)) as pool:
            ended = list(pool.map(_communicate, procs))
        outputs = [output for output, _ in ended]
        end = time.monotonic()
        makespan = end - (sim.first_accepted_at() or end)
        ideal = math.ceil(args.jobs / args.slots) * args.job_seconds
        charged = sim.accepted_submissions()
        failed = [
            err.decode()[-300:] for (_, err), p in zip(outputs, procs, strict=True) if p.returncode
        ]
        exits = [at for _, at in ended]
        if args.stalls and not counts and not profile:
            _print_stalls(Path(tmp) / "stalls")
        return {
            "runners": args.runners,
            "jobs": args.jobs,
            "slots": args.slots,
            "makespan": round(makespan, 3),
            "ideal": ideal,
            "ratio": round(makespan / ideal, 3),
            "peak_running": sim.peak_running(),
            **_timeline(sim, end, args.job_seconds),
            "charged": sum(charged.values()),
            "charged_twice": sum(1 for n in charged.values() if n > 1),
            "exit_codes": [proc.returncode for proc in procs],
            "exits_at": exits,  # popped by main (for the trace)
            **({"errors": failed} if failed else {}),
        }


def main() -> int:
    """Print one JSON line for PostgreSQL behind the proxy, one for an SQLite file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=36)
    parser.add_argument("--slots", type=int, default=6)
    parser.add_argument("--runners", type=int, default=4)
    parser.add_argument("--job-seconds", type=float, default=3.0)
    parser.add_argument("--poll", type=float, default=0.15)
    parser.add_argument("--max-rps", type=float, default=40.0)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--store", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument(
        "--profile", action="store_true", help="also print each store method's calls and time"
    )
    parser.add_argument(
        "--trace", action="store_true", help="with --profile: each runner's store calls in the tail"
    )
    parser.add_argument(
        "--stalls",
        action="store_true",
        help="where each runner's event loop stalled (no --profile)",
    )
    args = parser.parse_args()
    if args.store in ("postgres", "both"):
        with (
            team_database(args.delay_ms / 1000) as (url, proxy),
            tempfile.TemporaryDirectory() as tmp,
        ):
            profile = Path(tmp) / "profile" if args.profile else None
            figures = measure(args, f"{url}&schema=team{int(time.time())}", None, profile)
            figures |= _per_job(proxy.statements, proxy.round_trips, args.jobs)
            last_end = float(figures.pop("last_task_end_at", 0.0))  # type: ignore[arg-type]
            exits = figures.pop("exits_at")
            print(json.dumps({"store": "postgres", "delay_ms": args.delay_ms} | figures))
            if profile:
                print(json.dumps({"profile": _profile(profile, args.jobs, last_end)}))
                print(json.dumps({"intents_per_runner": _intents(profile)}))
                if args.trace:
                    _print_tail(profile.with_suffix(".trace"), last_end)
                    ends = [round(1000 * (at - last_end)) for at in exits]  # type: ignore[attr-defined]
                    print(f"processes ended (ms after the last task): {ends}")
    if args.store in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            counts = Path(tmp) / "counts"
            figures = measure(args, "", counts)
            total = sum(int(line) for line in counts.read_text().split())
            figures |= _per_job(total, 0, args.jobs)
            figures.pop("last_task_end_at", None)
            figures.pop("exits_at")
            print(json.dumps({"store": "sqlite"} | figures))
    return 0


def _communicate(proc: subprocess.Popen[bytes]) -> tuple[tuple[bytes, bytes], float]:
    """The process's output once it ended, and when it did."""
    output = proc.communicate()
    return output, time.monotonic()


def _timeline(sim: Simulator, end: float, job_seconds: float) -> dict[str, float]:
    """Where the makespan went: when the last task ended (from the first charged submission),
    the slot time left idle before it, and the tail (last task's end to the last exit)."""
    with sim.provider.lock:
        starts = sorted(t.start for t in sim.provider.book()._tasks.values() if t.start)
        first = sim.provider.first_accepted
    if not starts or first is None:
        return {}
    last_end = max(starts) + job_seconds - first
    busy = len(starts) * job_seconds
    slots = sim.provider.book().slots
    gaps = _hand_overs(starts, slots, job_seconds)
    return {
        "last_task_end_at": first + last_end,  # popped by main (for the profile)
        "last_task_end": round(last_end, 3),
        "idle_slot_seconds": round(slots * last_end - busy, 2),
        "first_round_s": round(starts[min(slots, len(starts)) - 1] - first, 3),
        "hand_over_ms": round(1000 * statistics.mean(gaps), 1) if gaps else 0.0,
        "hand_over_median_ms": round(1000 * statistics.median(gaps), 1) if gaps else 0.0,
        "tail": round(end - first - last_end, 3),
    }


def _hand_overs(starts: list[float], slots: int, job_seconds: float) -> list[float]:
    """Each task's start after the end of the task before it on its slot (the slot freed
    first): the slot time between two tasks. The first ``slots`` tasks start on free slots."""
    ends: list[float] = []
    gaps = []
    for start in starts:  # sorted
        if len(ends) == slots:
            gaps.append(start - heapq.heappop(ends))
        heapq.heappush(ends, start + job_seconds)
    return gaps


def _profile(path: Path, jobs: int, last_end: float) -> dict[str, dict[str, float]]:
    """Every runner's store calls summed: per method, calls and milliseconds per job, and
    when its last call ended after the last task did (the run's tail; "exit": the last exit)."""
    total: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        for name, (calls, seconds, last) in json.loads(line).items():
            seen = total.setdefault(name, [0, 0.0, -math.inf])
            seen[0] += calls
            seen[1] += seconds
            seen[2] = max(seen[2], last)
    ranked = sorted(total.items(), key=lambda item: -item[1][1])
    return {
        name: {
            "calls_per_job": round(c / jobs, 2),
            "ms_per_job": round(1000 * t / jobs, 1),
            "last_after_tasks_ms": round(1000 * (last - last_end)),
        }
        for name, (c, t, last) in ranked
    }


def _intents(path: Path) -> list[int]:
    """How many paid sends each runner made (its ``record_intent`` calls)."""
    lines = path.read_text().splitlines()
    return sorted(int(json.loads(line).get("record_intent", [0])[0]) for line in lines)


def _print_tail(path: Path, last_end: float) -> None:
    """Each runner's store calls that ended after the last task did: name start-end (ms)."""
    for line in sorted(path.read_text().splitlines()):
        runner, events = json.loads(line)
        tail = [
            f"{name} {1000 * (start - last_end):.0f}..{1000 * (end - last_end):.0f}"
            for name, start, end in events
            if end > last_end - 0.2
        ]
        print(f"{runner}: {', '.join(tail)}")


def _print_stalls(path: Path) -> None:
    """Each runner's event-loop stalls over 40 ms: seconds from its start, ms, the stack."""
    for line in sorted(path.read_text().splitlines()):
        runner, stalls = json.loads(line)
        print(f"{runner}: {len(stalls)} stalls over 40 ms")
        for at, late, stack in stalls:
            print(f"  {at:6.2f} s {late:4d} ms  {stack}")


def _per_job(statements: int, round_trips: int, jobs: int) -> dict[str, float]:
    """Statements and round trips of the whole run (opening included), per job."""
    return {
        "statements_per_job": round(statements / jobs, 1),
        "round_trips_per_job": round(round_trips / jobs, 1),
    }


if __name__ == "__main__":
    raise SystemExit(main())
