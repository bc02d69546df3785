"""Run `mjv` with a watchdog on its event loop: where the loop's thread was when it stalled.

A timer in the loop ticks every 5 ms; a watchdog thread samples the loop thread's stack once
whenever the timer is more than 40 ms late, and the timer records how late it came. One JSON
line per process is appended to OUT: [name, [[seconds from start, ms late, stack], ...]].

    python benchmarks/loop_stalls.py OUT.jsonl run spec.yaml ...   # or bench_team.py --stalls
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Coroutine
from typing import Any

from orchestrator.cli import main

TICK = 0.005
LATE = 0.04


def watched(out: str, argv: list[str]) -> int:
    """Run ``mjv argv`` with the watchdog; append what it saw to ``out``."""
    start, loop_thread = time.monotonic(), threading.get_ident()
    last = [time.monotonic()]
    samples: list[tuple[float, str]] = []
    late: list[tuple[float, float]] = []
    done = threading.Event()
    run = asyncio.run

    def with_timer(coro: Coroutine[Any, Any, Any], **kwargs: Any) -> Any:
        async def timed() -> Any:
            async def tick() -> None:
                while True:
                    last[0] = time.monotonic()
                    await asyncio.sleep(TICK)
                    if (lag := time.monotonic() - last[0] - TICK) > LATE:
                        late.append((last[0] - start, lag))

            ticker = asyncio.ensure_future(tick())
            try:
                return await coro
            finally:
                ticker.cancel()

        return run(timed(), **kwargs)

    def watch() -> None:
        seen = 0.0
        while not done.wait(0.01):
            if time.monotonic() - last[0] > LATE and last[0] != seen:
                seen = last[0]
                frame = sys._current_frames().get(loop_thread)
                stack = traceback.extract_stack(frame)[-6:] if frame else []
                shown = " > ".join(f"{os.path.basename(f.filename)}:{f.lineno}" for f in stack)
                samples.append((seen - start, shown))

    asyncio.run = with_timer  # type: ignore[assignment]
    threading.Thread(target=watch, daemon=True).start()
    try:
        return int(main(argv))
    finally:
        done.set()
        stacks = dict(samples)
        rows = [[round(at, 2), round(1000 * lag), stacks.get(at, "")] for at, lag in late]
        with open(out, "a") as file:
            file.write(json.dumps([os.environ.get("MJV_RUNNER_NAME", "mjv"), rows]) + "\n")


if __name__ == "__main__":
    raise SystemExit(watched(sys.argv[1], sys.argv[2:]))
