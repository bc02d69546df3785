"""The review's part of a plan: verdict counts, jobs waiting, approvals a change extends."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.plan import Plan
from orchestrator.terminal import md_code

VERDICT_NAMES = ("approved", "rejected", "unreviewed")


def verdict_counts(counts: Mapping[str, int]) -> str:
    """``2 approved, 1 rejected, 9 unreviewed``."""
    return ", ".join(f"{counts.get(name, 0)} {name}" for name in VERDICT_NAMES)


def review_lines(plan: Plan) -> list[str]:
    """The review's part of the markdown plan: verdict counts, jobs waiting, approvals to extend."""
    lines = []
    if plan.review:
        lines += ["", f"Clips reviewed: {verdict_counts(plan.review)}."]
    if plan.totals.waiting:
        lines += ["", f"{plan.totals.waiting} jobs wait for an approved clip (no cost yet)."]
    approvals = [
        (row.name, step, clip)
        for row in plan.rows
        if row.has_work and row.job is not None
        for step, clip in row.job.approvals
    ]
    if approvals:
        lines += ["", "**Approvals this change extends:**", ""]
        lines += [f"- {md_code(c)}: extension {s} of {md_code(n)}" for n, s, c in approvals]
    return lines
