"""`mjv run`: run a campaign against the provider (or the built-in simulator)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from orchestrator.commands.confirm import confirm
from orchestrator.commands.notifying import notify_url, send, summary_of
from orchestrator.commands.simulated import simulated, world_path
from orchestrator.commands.stopping import StopSignals
from orchestrator.engine.context import RunConfig, RunReport, Runtime
from orchestrator.engine.manifest import manifest_path
from orchestrator.engine.progress import make_progress
from orchestrator.engine.repay import repayments
from orchestrator.engine.runner import run_campaign, unmatched
from orchestrator.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_JOBS_FAILED,
    EXIT_OK,
    ManifestNotWrittenError,
    MjvError,
    UsageError,
)
from orchestrator.model import Campaign, JobStatus
from orchestrator.money import shown
from orchestrator.providers import DEFAULT_PROVIDER
from orchestrator.providers.factory import adapter, campaign_providers, open_clients, route
from orchestrator.providers.router import Account
from orchestrator.report import refresh_report
from orchestrator.review.current import review_summary, reviewed
from orchestrator.review.resolve import files_of_store
from orchestrator.spec import load_campaign
from orchestrator.state import AsyncStore, default_state_path, open_state
from orchestrator.terminal import one_line

SIMULATED_POLL = 0.5  # the simulator has no polling etiquette to respect
SIMULATED_JOB_SECONDS = 1.5


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the campaign of ``args.spec`` and return the exit code."""
    return execute(args, out, err, retry=False)


def execute(args: argparse.Namespace, out: TextIO, err: TextIO, *, retry: bool) -> int:
    """Shared by `run` and `retry`: load, open the state, run, summarise, notify."""
    url = notify_url(args)
    campaign = load_campaign(Path(args.spec))
    if args.simulate:  # never mix simulated clips or state with real ones
        campaign = simulated(campaign)
    try:
        code, report, page = _execute(campaign, args, out, err, retry=retry)
    except MjvError as exc:
        send(url, summary_of(campaign, None, exc.exit_code, None), err)
        raise
    except KeyboardInterrupt:
        send(url, summary_of(campaign, None, EXIT_INTERRUPTED, None), err)
        raise
    send(url, summary_of(campaign, report, code, page), err)
    return code


def _execute(
    campaign: Campaign, args: argparse.Namespace, out: TextIO, err: TextIO, *, retry: bool
) -> tuple[int, RunReport, Path | str | None]:
    config = run_config(campaign, args, retry=retry)
    _check_patterns(campaign, config)
    location, default = state_location(args, campaign)
    with (
        open_state(location, campaign.name, default_path=default) as store,
        _client(args, campaign) as client,
    ):
        campaign = reviewed(campaign, files_of_store(store.all_files()))  # approved steps planned
        confirm(repayments(campaign, store, config), campaign.currency, args, err)
        progress = make_progress(err, quiet=args.quiet, json_log=args.json_log)
        runtime = Runtime(
            client, AsyncStore(store), progress, campaign.output_dir, account=client.account
        )
        signals = StopSignals()
        try:
            report = asyncio.run(_run(campaign, runtime, config, signals))
        except ManifestNotWrittenError as exc:  # the summary first, then why the manifest failed
            summarise(exc.report, campaign, out)
            err.write(f"mjv: error: {exc}\n")
            return EXIT_ERROR, exc.report, None
        results = report.results or store.snapshot()  # the state as the manifest read it
        page = refresh_report(campaign, results)
        review = review_summary(campaign, files_of_store(results.all_files()))
    code = summarise(report, campaign, out)
    out.write(review)
    out.write(f"report: {page}\n")
    return signals.exit_code(code), report, page


def _lease_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 1.0 <= seconds <= 3600.0:
        raise UsageError(f"MJV_LEASE_SECONDS must be between 1 and 3600, got {text!r}")
    return seconds


def _check_patterns(campaign: Campaign, config: RunConfig) -> None:
    """A --select or --force pattern that matches no job is a typo, not a no-op."""
    for flag, globs in (("--select", config.select), ("--force", config.force)):
        missing = unmatched(campaign, globs)
        if missing:
            raise UsageError(
                f"{flag} {missing[0]!r} matches no job of campaign {campaign.name} "
                f"({len(campaign.jobs)} jobs; `mjv plan` lists their names)"
            )


def state_location(args: argparse.Namespace, campaign: Campaign) -> tuple[str | None, Path]:
    """The state: --state, else $MJV_STATE, else .mjv/state.db beside the spec.

    A simulated run keeps its own file and ignores $MJV_STATE, so simulated work never mixes
    with a team's real state.
    """
    simulated = bool(getattr(args, "simulate", False))
    default = default_state_path(campaign.spec_path, simulated)
    return (args.state or str(default) if simulated else args.state), default


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
    lease = os.environ.get("MJV_LEASE_SECONDS", "").strip()
    if lease:
        chosen["lease_seconds"] = _lease_seconds(lease)
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
def _client(args: argparse.Namespace, campaign: Campaign) -> Iterator[Account]:
    providers = campaign_providers(campaign)
    if not args.simulate:
        yield open_clients(providers, args.base_url)
        return
    with contextlib.ExitStack() as stack:
        clients = {name: stack.enter_context(_simulated(campaign, name)) for name in providers}
        yield route(clients)


@contextlib.contextmanager
def _simulated(campaign: Campaign, provider: str) -> Iterator[Account]:
    """A simulator speaking ``provider``'s wire format, and a client of it."""
    from orchestrator.simulator import Simulator, SimulatorConfig  # only with --simulate
    from orchestrator.simulator.footage import faults_from_env

    # The provider's world lives in a file, so Ctrl-C and resume, extension edits, retries and
    # restores from the manifest meet the same tasks and clips, as with a long-lived provider.
    seconds = float(os.environ.get("MJV_SIMULATE_JOB_SECONDS") or SIMULATED_JOB_SECONDS)
    config = SimulatorConfig(job_seconds=seconds, **faults_from_env(os.environ))
    world = world_path(campaign)
    if provider != DEFAULT_PROVIDER:  # each provider keeps its own world
        world = world.with_name(world.name.replace(".world", f".{provider}.world"))
    simulator = Simulator(config, port=_last_port(world), world=world, profile=provider)
    try:
        simulator.start()
    except OSError:  # the port is taken now: recorded clip URLs will not answer, new ones will
        simulator = Simulator(config, world=world, profile=provider)
        simulator.start()
    try:
        # The same port next time too: clip URLs recorded in the state and the manifest keep
        # answering, so a deleted simulated output folder is restored from them.
        world.with_suffix(".port").write_text(simulator.base_url.rsplit(":", 1)[1])
        yield adapter(provider, config.api_key, simulator.base_url)
    finally:
        simulator.stop()


def _last_port(world: Path) -> int:
    try:
        return int(world.with_suffix(".port").read_text())
    except (OSError, ValueError):
        return 0


async def _run(
    campaign: Campaign, runtime: Runtime, config: RunConfig, signals: StopSignals
) -> RunReport:
    # First Ctrl-C or SIGTERM: no new submissions, state left consistent. A second one stops
    # at once.
    stop = asyncio.Event()
    try:
        with signals.installed(stop):
            return await run_campaign(campaign, runtime, config, stop)
    finally:
        await runtime.client.aclose()


_SHOWN = (JobStatus.FAILED, JobStatus.IN_DOUBT, JobStatus.BLOCKED, JobStatus.STUCK)


def summarise(report: RunReport, campaign: Campaign, out: TextIO) -> int:
    """Print what the run did and return its exit code."""
    total = len(report.outcomes)
    done = report.count(JobStatus.DONE)
    if report.submitted == 0 and report.downloaded == 0 and done == total:
        out.write(
            f"nothing to do: all {total} jobs of {campaign.name} are done "
            "(nothing submitted, nothing downloaded)\n"
        )
    else:
        unknown = f" and {report.unpriced} of unknown price" if report.unpriced else ""
        out.write(
            f"{campaign.name}: {done}/{total} jobs done, {report.submitted} submitted, "
            f"{report.downloaded} clips downloaded, spent "
            f"{shown(report.spent_this_run, campaign.currency)}{unknown} in this run "
            f"({shown(report.spent, campaign.currency)} by the campaign in all)\n"
        )
    if report.budget_note:
        out.write(f"  budget: {report.budget_note}\n")
    for outcome in report.outcomes:
        if outcome.status in _SHOWN:
            kind = "final" if outcome.final else "retryable"
            label = f"failed ({kind})" if outcome.status == JobStatus.FAILED else outcome.status
            out.write(f"  {label}: {one_line(outcome.reason or '')}\n")
    for what in report.resent_in_doubt:
        out.write(f"  warning: {what} was in doubt and was sent again; it may be charged twice\n")
    out.write(f"manifest: {manifest_path(campaign)}\n")
    if report.stopped:
        out.write(
            f"run stopped: {report.stopped}; nothing new was sent after it, the tasks already "
            f"paid for were polled and saved ({report.downloaded} clips in this run), and every "
            "unfinished job is kept for a later run\n"
        )
        return EXIT_ERROR
    if report.interrupted:
        out.write("interrupted: run `mjv run` again to pick up where this run stopped\n")
        return EXIT_INTERRUPTED
    return EXIT_OK if done == total else EXIT_JOBS_FAILED
