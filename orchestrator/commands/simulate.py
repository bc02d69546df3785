"""`mjv simulate`: serve the provider simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from typing import TextIO

from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.simulator import Simulator, SimulatorConfig


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Build the simulator's configuration from the parsed options."""
    return SimulatorConfig(
        job_seconds=args.job_seconds,
        slots=args.slots,
        seed=args.seed,
        api_key=args.api_key,
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        server_error=args.server_error,
        queue_full=args.queue_full,
        banned_words=tuple(args.banned_word),
        fail_rate=args.fail_rate,
        slow=args.slow,
        drop_after_submit=args.drop_after_submit,
        credits=args.credits,
    )


def wait_forever() -> None:
    """Block the calling thread until Ctrl-C raises KeyboardInterrupt."""
    while True:
        time.sleep(3600)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve the simulator on ``args.host:args.port`` and return when interrupted."""
    sim = Simulator(config_from_args(args), port=args.port, host=args.host)
    try:
        sim.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    out.write(
        f"mjv simulator listening on {sim.base_url}\n"
        f"  export MJV_BASE_URL={sim.base_url}\n"
        f"  export MJV_API_KEY={sim.config.api_key}\n"
        "Press Ctrl-C to stop.\n"
    )
    out.flush()
    try:
        wait_forever()
    except KeyboardInterrupt:
        out.write(f"stopped after {sim.total_requests()} requests\n")
    finally:
        sim.stop()
    return EXIT_OK
