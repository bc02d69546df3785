"""What a run would do: one row per job with its status, plus totals and estimated cost (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.frozen import fast_constructor
from orchestrator.graph import Kind, pending_counts
from orchestrator.model import Campaign, Job, JobStatus, Settings
from orchestrator.qc.worst import RetakeWorstCase, worst_case

STATUSES = (
    JobStatus.NEW,
    JobStatus.DONE,
    JobStatus.CHANGED,
    JobStatus.INCOMPLETE,
    JobStatus.FAILED,
    JobStatus.ORPHANED,
    JobStatus.WAITING,
)
WORK_STATUSES = frozenset(
    {JobStatus.NEW, JobStatus.CHANGED, JobStatus.INCOMPLETE, JobStatus.FAILED}
)


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One job of the plan; ``job`` is None only for an orphaned state entry."""

    name: str
    fingerprint: str
    status: JobStatus
    job: Job | None
    video_submissions: int  # the base clip plus each extension step
    seconds: float  # clips x seconds per clip
    why: tuple[str, ...] = ()  # a changed job: what differs from what ran
    damaged: tuple[str, ...] = ()  # an incomplete job: its files missing or altered on disk
    known_cost: float = 0.0  # its video submissions of known price (shared sources: totals)
    unpriced: int = 0  # its video submissions without a price (their cost is unknown)

    @property
    def cost(self) -> float | None:
        """What its video submissions cost; None when any has no known price."""
        return None if self.unpriced else self.known_cost

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
    imagine_submissions: int  # imagine grids and upscales
    upload_submissions: int
    seconds: float
    cost: float | None  # None when any submission has no known price
    known_cost: float  # the part of the cost with known prices
    unpriced: Mapping[str, int]  # mode (or "imagine") -> submissions without a price
    waiting: int = 0  # jobs whose next extension waits for an approved clip: no work, no cost


@dataclass(frozen=True)
class Plan:
    """The plan of one campaign."""

    campaign: str
    spec_path: str
    output_dir: str
    max_cost: float | None
    rows: tuple[PlanRow, ...]
    totals: Totals
    spent: float = 0.0  # what the campaign has spent so far (refunds deducted)
    in_doubt: float = 0.0  # sent but never answered: possibly charged
    basis: str = "nothing (no state file, no manifest): every job is new"
    review: Mapping[str, int] = field(default_factory=dict)  # approved/rejected/unreviewed clips
    currency: str = "USD"  # the unit of every amount (pricing.currency)
    retakes: RetakeWorstCase = field(default_factory=lambda: RetakeWorstCase(0, 0, 0.0, 0.0))
    qc_failed: tuple[str, ...] = ()  # clips that failed their checks (never extended)

    @property
    def left(self) -> float | None:
        """What the cap leaves after the spending so far and this plan's known cost."""
        if self.max_cost is None:
            return None
        return round(self.max_cost - self.spent - self.in_doubt - self.totals.known_cost, 6)

    @property
    def has_work(self) -> bool:
        """True when any row is new, changed or failed."""
        return self.totals.to_do > 0

    @property
    def over_budget(self) -> bool:
        """True when spending so far plus this plan's known cost exceeds ``max_cost``."""
        left = self.left
        return left is not None and left < -1e-9


def build_plan(
    campaign: Campaign,
    statuses: Mapping[str, JobStatus] | None = None,
    done: Collection[str] = frozenset(),
    orphaned: Sequence[str] = (),
    *,
    why: Mapping[str, tuple[str, ...]] | None = None,
    damaged: Mapping[str, tuple[str, ...]] | None = None,
    spent: float = 0.0,
    in_doubt: float = 0.0,
    basis: str | None = None,
) -> Plan:
    """Plan ``campaign`` against what the state knows.

    ``statuses`` maps job names to a status (default "new"), ``done`` holds the keys of the
    submission graph a run need not send again (finished, or an upload still fresh), and
    ``orphaned`` names jobs the state has done work for that the spec no longer has; ``why``
    and ``damaged`` explain changed and incomplete jobs.
    """
    known, why, damaged = statuses or {}, why or {}, damaged or {}
    # Counted before the rows are made: its set of keys is gone before the rows take memory.
    work = (
        (job for job in campaign.jobs if known.get(job.name, JobStatus.NEW) in WORK_STATUSES)
        if known
        else campaign.jobs  # every job is new
    )
    counts = pending_counts(work, done)
    price = _price_of_settings(campaign.pricing)
    if known or done or why or damaged:
        rows = tuple(
            _row(price, job, known.get(job.name, _NEW), done, why, damaged) for job in campaign.jobs
        )
    else:  # nothing ran (the CI case): rows made from what their settings and steps decide
        rows = _new_rows(price, campaign.jobs)
    rows += tuple(PlanRow(name, "", JobStatus.ORPHANED, None, 0, 0.0) for name in orphaned)
    return Plan(
        campaign=campaign.name,
        spec_path=str(campaign.spec_path),
        output_dir=str(campaign.output_dir),
        max_cost=campaign.max_cost,
        rows=rows,
        totals=_totals(campaign, rows, counts),
        spent=spent,
        in_doubt=in_doubt,
        currency=campaign.currency,
        retakes=worst_case(campaign, (row.job for row in rows if row.has_work and row.job)),
        basis=basis or Plan.basis,
    )


def _price_of_settings(pricing: Mapping[str, float]) -> Callable[[Settings], float | None]:
    """``pricing``'s price of a job's settings, looked up once per settings object (the jobs
    of a matrix row share theirs, and keep it alive while the plan is built)."""
    found: dict[int, float | None] = {}

    def price(settings: Settings) -> float | None:
        key = id(settings)
        if key not in found:
            found[key] = pricing.get(settings.price_key)
        return found[key]

    return price


_NEW = JobStatus.NEW  # a hot loop's constant: an enum member lookup costs more than a local
_new_row = fast_constructor(PlanRow)  # PlanRow(...), made once per job: a faster path


def _new_rows(
    price_of: Callable[[Settings], float | None], jobs: Sequence[Job]
) -> tuple[PlanRow, ...]:
    """The rows of ``jobs`` when every one is new: ``_row``'s, made once per (settings object,
    number of steps) and shared by every job with both (a matrix row's jobs)."""
    made: dict[tuple[int, int], tuple[int, float, float, int]] = {}
    rows = []
    for job in jobs:
        key = (id(job.settings), len(job.extensions))
        cost = made.get(key)
        if cost is None:
            row = _row(price_of, job, _NEW, (), {}, {})
            cost = made[key] = row.video_submissions, row.seconds, row.known_cost, row.unpriced
        submissions, seconds, known, unpriced = cost
        rows.append(
            _new_row(job.name, job.fingerprint, _NEW, job, submissions, seconds, (), (), known,
                    unpriced)
        )  # fmt: skip
    return tuple(rows)


def _row(
    price_of: Callable[[Settings], float | None],
    job: Job,
    status: JobStatus,
    done: Collection[str],
    why: Mapping[str, tuple[str, ...]],
    damaged: Mapping[str, tuple[str, ...]],
) -> PlanRow:
    if status in (JobStatus.DONE, JobStatus.WAITING):
        submissions = 0
    elif not done:  # nothing ran yet: the whole chain
        submissions = 1 + len(job.extensions)
    else:
        chain = [job.fingerprint, *(ext.fingerprint for ext in job.extensions)]
        submissions = sum(1 for key in chain if key not in done)
    seconds = job.settings.batch_size * job.seconds if submissions else 0.0
    reasons, broken = why.get(job.name, ()), damaged.get(job.name, ())
    price = price_of(job.settings)
    known = round((price or 0.0) * submissions, 6)
    unpriced = submissions if price is None else 0
    return _new_row(
        job.name, job.fingerprint, status, job, submissions, seconds, reasons, broken, known,
        unpriced,
    )  # fmt: skip


def _totals(
    campaign: Campaign, rows: tuple[PlanRow, ...], counts: Mapping[tuple[Kind, str], int]
) -> Totals:
    work = [row for row in rows if row.status in WORK_STATUSES]
    by_price: Counter[str] = Counter()
    kinds: Counter[Kind] = Counter()
    for (kind, price_key), count in counts.items():
        by_price[price_key] += count
        kinds[kind] += count
    known_cost, unpriced = 0.0, {}
    for name, count in sorted(by_price.items()):
        price = campaign.price_by_key(name)
        if price is None:
            unpriced[name] = count
        else:
            known_cost += price * count
    return Totals(
        jobs=len(rows),
        to_do=len(work),
        video_submissions=kinds[Kind.VIDEO] + kinds[Kind.EXTEND],
        imagine_submissions=kinds[Kind.IMAGINE] + kinds[Kind.UPSCALE],
        upload_submissions=kinds[Kind.UPLOAD],
        seconds=sum(row.seconds for row in work),
        cost=None if unpriced else round(known_cost, 6),
        known_cost=round(known_cost, 6),
        unpriced=unpriced,
        waiting=sum(1 for row in rows if row.status == JobStatus.WAITING),
    )
