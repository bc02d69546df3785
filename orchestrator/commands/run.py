"""`mjv run`: run a campaign against the provider (or the built-in simulator)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import TextIO

from orchestrator.client import Client
from orchestrator.engine.context import RunConfig, RunReport, Runtime
from orchestrator.engine.manifest import manifest_path
from orchestrator.engine.progress import make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_JOBS_FAILED, EXIT_OK
from orchestrator.model import Campaign
from orchestrator.spec import load_campaign
from orchestrator.state import default_state_path, open_store

SIMULATED_POLL = 0.5  # the simulator has no polling etiquette to respect
SIMULATED_JOB_SECONDS = 1.5


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the campaign of ``args.spec`` and return the exit code."""
    return execute(args, out, err, retry=False)


def execute(args: argparse.Namespace, out: TextIO, err: TextIO, *, retry: bool) -> int:
    """Shared by `run` and `retry`: load, open the state, run, summarise."""
    campaign = load_campaign(Path(args.spec))
    if args.simulate:  # never mix simulated clips or state with real ones
        campaign = replace(
            campaign,
            output_dir=campaign.output_dir.with_name(campaign.output_dir.name + "-simulated"),
        )
    config = run_config(campaign, args, retry=retry)
    with open_store(state_path(args, campaign), campaign.name) as store, _client(args) as client:
        progress = make_progress(err, quiet=args.quiet, json_log=args.json_log)
        runtime = Runtime(client, store, progress, campaign.output_dir)
        report = asyncio.run(_run(campaign, runtime, config))
    return summarise(report, campaign, out)


def state_path(args: argparse.Namespace, campaign: Campaign) -> Path:
    """The state file: --state, else .mjv/state.db beside the spec (simulated runs apart)."""
    if args.state:
        return Path(args.state)
    return default_state_path(campaign.spec_path, getattr(args, "simulate", False))


def run_config(campaign: Campaign, args: argparse.Namespace, *, retry: bool) -> RunConfig:
    """Spec ``run:`` options, overridden by flags."""
    flags = {
        "concurrency": args.concurrency,
        "max_rps": args.max_rps,
        "poll_interval": args.poll_interval or (SIMULATED_POLL if args.simulate else None),
        "task_timeout": args.task_timeout,
        "submit_ahead": getattr(args, "submit_ahead", None),
    }
    chosen = {name: value for name, value in flags.items() if value is not None}
    return RunConfig(
        **{**asdict(campaign.run), **chosen},
        max_cost=args.max_cost if args.max_cost is not None else campaign.max_cost,
        in_doubt=args.in_doubt,
        select=tuple(args.select),
        force=tuple(getattr(args, "force", ())),
        retry_failed=retry,
        include_final=getattr(args, "include_final", False),
    )


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Client]:
    if not args.simulate:
        yield Client.from_env(args.base_url)
        return
    from orchestrator.simulator import Simulator, SimulatorConfig  # only with --simulate

    config = SimulatorConfig(job_seconds=SIMULATED_JOB_SECONDS)
    with Simulator(config) as simulator:
        yield Client(config.api_key, simulator.base_url)


async def _run(campaign: Campaign, runtime: Runtime, config: RunConfig) -> RunReport:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, _first_interrupt, loop, stop)
    try:
        return await run_campaign(campaign, runtime, config, stop)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        await runtime.client.aclose()


def _first_interrupt(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # First Ctrl-C: no new submissions, state left consistent. A second one stops at once.
    stop.set()
    loop.remove_signal_handler(signal.SIGINT)


def summarise(report: RunReport, campaign: Campaign, out: TextIO) -> int:
    """Print what the run did and return its exit code."""
    total = len(report.outcomes)
    done = report.count("done")
    if report.submitted == 0 and report.downloaded == 0 and done == total:
        out.write(
            f"nothing to do: all {total} jobs of {campaign.name} are done "
            "(nothing submitted, nothing downloaded)\n"
        )
    else:
        out.write(
            f"{campaign.name}: {done}/{total} jobs done, {report.submitted} submitted, "
            f"{report.downloaded} clips downloaded, spent {report.spent:.2f}\n"
        )
    for outcome in report.outcomes:
        if outcome.status in ("failed", "in_doubt", "blocked"):
            kind = "final" if outcome.final else "retryable"
            label = f"failed ({kind})" if outcome.status == "failed" else outcome.status
            out.write(f"  {label}: {outcome.reason}\n")
    for what in report.resent_in_doubt:
        out.write(f"  warning: {what} was in doubt and was sent again; it may be charged twice\n")
    out.write(f"manifest: {manifest_path(campaign)}\n")
    if report.stopped:
        out.write(f"run stopped: {report.stopped}\n")
        return EXIT_ERROR
    if report.interrupted:
        out.write("interrupted: run `mjv run` again to pick up where this run stopped\n")
        return EXIT_INTERRUPTED
    return EXIT_OK if done == total else EXIT_JOBS_FAILED
