"""`--notify URL` / MJV_NOTIFY_URL for `mjv run` and `mjv retry`: the summary when a run ends."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from orchestrator.engine.context import RunReport
from orchestrator.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, UsageError
from orchestrator.model import Campaign, JobStatus
from orchestrator.notify import ENV_URL, RunSummary, check_url, post, shown_url, timeout_from


def notify_url(args: argparse.Namespace) -> str | None:
    """The webhook: --notify, else $MJV_NOTIFY_URL, else none. A malformed one is a usage
    error before anything is sent (its text is never repeated: it may hold a secret)."""
    url = getattr(args, "notify", None) or os.environ.get(ENV_URL, "").strip() or None
    if url is not None:
        problem = check_url(url)
        if problem:
            raise UsageError(f"{problem} (--notify or {ENV_URL})")
    return url


def summary_of(
    campaign: Campaign, report: RunReport | None, code: int, page: Path | str | None
) -> RunSummary:
    """The run's summary for the hook; ``report`` is None when the run ended in an error."""
    total = len(report.outcomes) if report else len(campaign.jobs)
    done = report.count(JobStatus.DONE) if report else 0
    failed = report.count(JobStatus.FAILED) if report else 0
    return RunSummary(
        campaign=campaign.name,
        outcome=_outcome(report, code),
        exit_code=code,
        jobs=total,
        done=done,
        failed=failed,
        waiting=total - done - failed,
        spent=report.spent if report else None,
        currency=campaign.currency,
        report=str(page) if page else None,
    )


def send(url: str | None, summary: RunSummary, err: TextIO) -> None:
    """Post the summary; a hook that fails is reported on ``err`` and changes nothing else."""
    if url is None:
        return
    problem = post(url, summary, timeout_from(os.environ))
    if problem:
        err.write(f"mjv: warning: notification not delivered: {problem}\n")
    else:
        err.write(f"mjv: notified {shown_url(url)}\n")


def _outcome(report: RunReport | None, code: int) -> str:
    if report is None:
        return "error"
    if report.stopped:
        return "stopped"
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        return "interrupted"
    return "done" if code == EXIT_OK else "some jobs not done"
