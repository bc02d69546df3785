"""CPU of the run engine alone: the state file, files and asyncio, with an in-memory provider.

Set beside `bench_run.py` (the same campaign through HTTP and the simulator), it splits a
job's CPU between the engine and the HTTP stack.

    python benchmarks/bench_engine.py [JOBS ...]     # default: 2,000 and 20,000

Per-job CPU must not grow with the number of jobs: the last line compares the two sizes.
"""

from __future__ import annotations

import asyncio
import io
import resource
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench_run import write_spec

from orchestrator.client import ExtendRequest, Task, VideoRequest
from orchestrator.engine.context import RunConfig, Runtime
from orchestrator.engine.progress import make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.provider import OnSend
from orchestrator.spec import load_campaign
from orchestrator.state import open_store

MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(2000)


class InstantProvider:
    """Accepts every submission; every task has succeeded by the first poll."""

    def __init__(self) -> None:
        self._ids = 0

    async def create_video(self, req: VideoRequest, on_send: OnSend | None = None) -> str:
        return self._accept(on_send)

    async def extend_video(self, req: ExtendRequest, on_send: OnSend | None = None) -> str:
        return self._accept(on_send)

    def _accept(self, on_send: OnSend | None) -> str:
        if on_send is not None:  # the intent is committed when the request "leaves"
            on_send()
        self._ids += 1
        return str(self._ids)

    async def list_tasks(self, ids: Sequence[str]) -> list[Task]:
        return [_done(task_id) for task_id in ids]

    async def fetch_task(self, task_id: str) -> Task:
        return _done(task_id)

    async def download(self, url: str, sink: Callable[[bytes], None]) -> int:
        sink(MP4)
        return len(MP4)

    async def aclose(self) -> None:
        """Nothing to close."""


def _done(task_id: str) -> Task:
    url = f"https://cdn.example.com/{task_id}.mp4"
    return Task(task_id, "VIDEO", "SUCCESS", "100%", None, None, None, (url,), (), {}, None, None)


async def measure(jobs: int, folder: Path) -> tuple[float, float]:
    """User and system CPU milliseconds per job of one run."""
    campaign = load_campaign(write_spec(folder, jobs))
    config = RunConfig(concurrency=100, max_rps=1e6, poll_interval=0.01)
    with open_store(folder / "state.db", campaign.name) as store:
        progress = make_progress(io.StringIO(), quiet=True, json_log=False)
        runtime = Runtime(InstantProvider(), store, progress, campaign.output_dir)  # type: ignore[arg-type]
        before = resource.getrusage(resource.RUSAGE_SELF)
        # 20,000 jobs would need ~200 GB by the preflight's clip estimate; these clips are tiny.
        report = await run_campaign(campaign, runtime, config, free_space=lambda _: 1 << 62)
        after = resource.getrusage(resource.RUSAGE_SELF)
    assert report.count("done") == jobs
    user = 1000 * (after.ru_utime - before.ru_utime) / jobs
    system = 1000 * (after.ru_stime - before.ru_stime) / jobs
    return user, system


def main() -> int:
    """Print the engine's CPU per job for each size, and how user CPU per job scales."""
    sizes = [int(arg) for arg in sys.argv[1:]] or [2000, 20000]
    users = []
    for jobs in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            user, system = asyncio.run(measure(jobs, Path(tmp)))
        users.append(user)
        total = user + system
        print(f"{jobs} jobs: engine CPU {total:.2f} ms/job ({user:.2f} user, {system:.2f} system)")
    if len(sizes) > 1:
        print(f"user CPU per job, {sizes[-1]} vs {sizes[0]} jobs: {users[-1] / users[0]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
