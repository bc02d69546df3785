"""Run a campaign in a child process that SIGKILLs itself just before its N-th state write.

Used by tests/test_run_crash.py: ``python crash_child.py SPEC BASE_URL N [AFTER]``. Exits 0
when the run finishes before the N-th write (there was nothing left to crash), 3 when jobs
failed. With AFTER (a write's name) it kills itself just after the first such write has
committed instead (``record_intent``: after the intent, before the request's first byte).
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from pathlib import Path
from typing import Any

from orchestrator.client import Client
from orchestrator.engine.context import RunConfig, Runtime
from orchestrator.engine.progress import make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.spec import load_campaign
from orchestrator.state import default_state_path, open_store

WRITES = (
    "claim",
    "record_intent",
    "record_task",
    "record_rejected",
    "record_running",
    "record_success",
    "record_failure",
    "record_files",
    "reset",
    "adopt",
    "record_upload",
    "record_qc",
)


class KillingStore:
    """Forwards to a real store and kills the process just before the N-th write."""

    def __init__(self, store: Any, writes_left: int, after: str | None = None) -> None:
        self._store = store
        self._left = writes_left
        self._after = after

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        if name not in WRITES:
            return method

        def write(*args: Any, **kwargs: Any) -> Any:
            self._left -= 1
            if self._left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)
            result = method(*args, **kwargs)
            if name == self._after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return write


async def main(spec: Path, base_url: str, writes: int, after: str | None = None) -> int:
    campaign = load_campaign(spec)
    config = RunConfig(concurrency=2, max_rps=1000, poll_interval=0.02)
    async with Client("sk-simulator", base_url) as client:
        with open_store(default_state_path(spec), campaign.name) as real:
            store: Any = KillingStore(real, writes, after)
            progress = make_progress(io.StringIO(), quiet=True, json_log=False)
            rt = Runtime(client, store, progress, campaign.output_dir)
            report = await run_campaign(campaign, rt, config)
    return 0 if report.count("done") == len(report.outcomes) else 3


if __name__ == "__main__":
    after = sys.argv[4] if len(sys.argv) > 4 else None
    raise SystemExit(asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), after)))
