"""How many jobs a spec expands to, counted arithmetically before anything is expanded."""

from __future__ import annotations

import math
from typing import Any

from orchestrator.spec.images import ImageTable
from orchestrator.spec.salvage import live_jobs
from orchestrator.spec.yamlsource import Document

DEFAULT_MAX_JOBS = 100_000


def max_jobs(data: dict[str, Any]) -> int:
    """The spec's ``limits.max_jobs``, else DEFAULT_MAX_JOBS."""
    value = data.get("limits", {}).get("max_jobs", DEFAULT_MAX_JOBS)
    return value if isinstance(value, int) else DEFAULT_MAX_JOBS


def check_job_count(doc: Document, images: ImageTable) -> bool:
    """Say whether expansion may run: no job template (nor the sum) exceeds ``max_jobs``."""
    limit = max_jobs(doc.data)
    counts = []
    for i, job in live_jobs(doc.data):
        factors = _factors(job, images)
        counts.append(math.prod(factors))
        if counts[-1] > limit:
            where = ("jobs", i, "matrix") if "matrix" in job else ("jobs", i)
            doc.problem(where, f"{_describe(counts[-1], factors)}, over {_limit(limit)}")
    total = sum(counts)
    if total > limit and max(counts) <= limit:
        doc.problem(
            ("jobs",), f"the job templates expand to {total:,} jobs in all, over {_limit(limit)}"
        )
    return total <= limit


def _factors(job: dict[str, Any], images: ImageTable) -> tuple[int, int, int, int]:
    """Images, prompts, matrix rows (before exclude) and takes of one job template."""
    sources = sum(len(images.get(name, ())) for name in job["images"])
    prompts = len(job.get("prompts", [])) or 1
    return sources, prompts, matrix_size(job.get("matrix", {})), job.get("takes", 1)


def matrix_size(matrix: dict[str, Any]) -> int:
    """Rows of a matrix before exclude: the product of its axes plus its include rows."""
    axes = [values for key, values in matrix.items() if key not in ("include", "exclude")]
    extra = len(matrix.get("include", []))
    return math.prod(len(values) for values in axes) + extra if axes else max(extra, 1)


def _describe(count: int, factors: tuple[int, int, int, int]) -> str:
    images, prompts, rows, takes = factors
    return (
        f"this job template expands to {count:,} jobs ({images} image(s) x {prompts} prompt(s)"
        f" x {rows:,} matrix row(s) x {takes} take(s))"
    )


def _limit(limit: int) -> str:
    return f"the limit of {limit:,} (limits.max_jobs)"
