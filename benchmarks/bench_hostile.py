"""Memory of mjv facing a 400 MB answer to a poll (announced, then chunked without a length).

Run: .venv/bin/python benchmarks/bench_hostile.py [--mb N]
The hostile provider of the tests serves the answer on loopback; the client refuses it past
MJV_MAX_ANSWER_MB (8). Prints the Python heap's peak per answer and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostile_server import KEY, Hostile, hostile

from orchestrator.client import Client
from orchestrator.errors import ProviderError

MB = 1 << 20


async def _poll(base_url: str) -> str:
    async with Client(KEY, base_url) as client:
        try:
            await client.list_tasks(["1"])
        except ProviderError as exc:
            return type(exc).__name__
    return "read whole"


def main() -> None:
    """Poll once per mode and print what happened and the peaks."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=400, help="size of the hostile answer")
    size = parser.parse_args().mb * MB
    for announce in (True, False):
        with hostile(Hostile(answer_bytes=size, announce_answer=announce)) as server:
            tracemalloc.start()
            outcome = asyncio.run(_poll(server.base_url))
            peak = tracemalloc.get_traced_memory()[1] / MB
            tracemalloc.stop()
        label = "announced" if announce else "chunked"
        print(f"{label:9} {size // MB} MB answer: {outcome}, heap peak {peak:.1f} MB")
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
