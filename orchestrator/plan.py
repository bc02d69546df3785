"""What a run would do: one row per job with its status, plus totals and estimated cost (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.model import Campaign, Job

STATUSES = ("new", "done", "changed", "incomplete", "failed", "orphaned")
WORK_STATUSES = frozenset({"new", "changed", "incomplete", "failed"})
IMAGINE_SUBMISSIONS = 2  # an imagine grid, then the upscale of the picked picture


@dataclass(frozen=True)
class PlanRow:
    """One job of the plan; ``job`` is None only for an orphaned state entry."""

    name: str
    fingerprint: str
    status: str
    job: Job | None
    video_submissions: int  # the base clip plus each extension step
    seconds: float  # clips x seconds per clip

    @property
    def has_work(self) -> bool:
        """True when a run would submit something for this row."""
        return self.status in WORK_STATUSES


@dataclass(frozen=True)
class Totals:
    """Sums over the rows with work (``jobs`` counts every row)."""

    jobs: int
    to_do: int
    video_submissions: int
    imagine_submissions: int
    seconds: float
    cost: float | None  # None when any submission has no known price
    known_cost: float  # the part of the cost with known prices
    unpriced: Mapping[str, int]  # mode (or "imagine") -> submissions without a price


@dataclass(frozen=True)
class Plan:
    """The plan of one campaign."""

    campaign: str
    spec_path: str
    output_dir: str
    max_cost: float | None
    rows: tuple[PlanRow, ...]
    totals: Totals

    @property
    def has_work(self) -> bool:
        """True when any row is new, changed or failed."""
        return self.totals.to_do > 0

    @property
    def over_budget(self) -> bool:
        """True when the known cost already exceeds ``max_cost``."""
        return self.max_cost is not None and self.totals.known_cost > self.max_cost


def build_plan(
    campaign: Campaign,
    statuses: Mapping[str, str] | None = None,
    remaining: Mapping[str, int] | None = None,
    orphaned: Sequence[str] = (),
) -> Plan:
    """Plan ``campaign`` against what the state knows.

    ``statuses`` maps job names to a status (default "new"), ``remaining`` to the number of
    submissions a run still has to make (default: the whole chain), and ``orphaned`` names jobs
    the state has done work for that the spec no longer has.
    """
    known, left = statuses or {}, remaining or {}
    rows = tuple(
        _row(job, known.get(job.name, "new"), left.get(job.name)) for job in campaign.jobs
    ) + tuple(PlanRow(name, "", "orphaned", None, 0, 0.0) for name in orphaned)
    return Plan(
        campaign=campaign.name,
        spec_path=str(campaign.spec_path),
        output_dir=str(campaign.output_dir),
        max_cost=campaign.max_cost,
        rows=rows,
        totals=_totals(campaign, rows),
    )


def _row(job: Job, status: str, remaining: int | None) -> PlanRow:
    chain = 1 + len(job.extensions)
    submissions = chain if remaining is None else remaining
    seconds = job.settings.batch_size * job.seconds if submissions else 0.0
    return PlanRow(job.name, job.fingerprint, status, job, submissions, seconds)


def _totals(campaign: Campaign, rows: tuple[PlanRow, ...]) -> Totals:
    work = [row for row in rows if row.has_work]
    jobs = [row.job for row in work if row.job is not None]
    by_mode: Counter[str] = Counter()
    for row in work:
        if row.job is not None:
            by_mode[row.job.settings.mode] += row.video_submissions
    imagine = IMAGINE_SUBMISSIONS * len(_imagine_sources(jobs))
    if imagine:
        by_mode["imagine"] += imagine
    known_cost, unpriced = 0.0, {}
    for mode, count in sorted(by_mode.items()):
        price = campaign.price(mode)
        if price is None:
            unpriced[mode] = count
        else:
            known_cost += price * count
    return Totals(
        jobs=len(rows),
        to_do=len(work),
        video_submissions=sum(row.video_submissions for row in work),
        imagine_submissions=imagine,
        seconds=sum(row.seconds for row in work),
        cost=None if unpriced else round(known_cost, 6),
        known_cost=round(known_cost, 6),
        unpriced=unpriced,
    )


def _imagine_sources(jobs: list[Job]) -> set[str]:
    """Names of the Midjourney stills these jobs need; each is generated once per run."""
    names: set[str] = set()
    for job in jobs:
        sources = (job.image, job.end_image)
        names.update(s.name for s in sources if s is not None and s.kind == "imagine")
    return names
