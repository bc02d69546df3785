"""The money of a campaign as the manifest shows it: per job, per source, and in all.

Every figure comes from the state's attempts (``Store.money`` and ``Store.totals``), the same
numbers `mjv status` prints and the run's budget starts from, so they agree to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from orchestrator.graph import SOURCE_KINDS, Graph
from orchestrator.model import Campaign, chain
from orchestrator.results import SourceEntry, SpentOn, Totals
from orchestrator.state import Money, Reads, Status, Submission
from orchestrator.state import Totals as StateTotals


def spent_on(money: Mapping[str, Money], keys: Iterable[str]) -> float:
    """What the given submissions cost, refunds deducted (each key once)."""
    return round(sum(money[key].spent for key in set(keys) if key in money), 6)


def source_entries(
    graph: Graph, subs: Mapping[str, Submission], money: Mapping[str, Money]
) -> list[SourceEntry]:
    """One entry per upload, imagine grid and upscale the campaign's jobs need."""
    entries = []
    for node in graph.nodes.values():
        if node.kind not in SOURCE_KINDS:
            continue
        sub = subs.get(node.key)
        remote = sub if sub and node.kind != "upload" else None  # an upload has no task
        entries.append(
            SourceEntry(
                fingerprint=node.key,
                kind=str(node.kind),
                image=node.label,
                status=Status(sub.status) if sub else Status.PENDING,
                task_id=remote.task_id if remote else None,
                image_url=remote.image_url if remote else None,
                cost=spent_on(money, [node.key]),
            )
        )
    return sorted(entries, key=lambda entry: (entry.image, entry.kind))


def money_totals(
    campaign: Campaign,
    totals: StateTotals,
    money: Mapping[str, Money],
    sources: Iterable[SourceEntry],
    answers: Iterable[str] = (),
) -> Totals:
    """The campaign's spending in all, and where it went: its jobs (``answers``: the keys of
    modal answers to their tasks), its sources, earlier work.

    The counts of jobs and files are left at zero: the manifest adds them as it reads its jobs.
    """
    chains = {step.fingerprint for job in campaign.jobs for step in chain(job)}
    chains.update(answers)
    jobs = spent_on(money, chains)
    stills = spent_on(money, [source.fingerprint for source in sources])
    earlier = round(totals.spent - jobs - stills, 6)
    return Totals(
        spent=totals.spent,
        refunded=totals.refunded,
        possibly_charged=totals.reserved,
        spent_on=SpentOn(jobs, stills, earlier),
    )


def unpriced_submissions(campaign: Campaign, graph: Graph, store: Reads) -> int:
    """Accepted submissions of ``graph`` whose price is unknown: their cost is not in the
    spending (never counted as zero), so it is shown beside it as a count."""
    count = 0
    for sub in store.submissions():
        if not sub.attempt or _price(campaign, graph, sub) is not None:
            continue
        count += sum(1 for a in store.attempts(sub.key) if a.task_id and a.outcome != "adopted")
    return count


def _price(campaign: Campaign, graph: Graph, sub: Submission) -> float | None:
    """The price of one of ``sub``'s attempts; 0 for one the campaign no longer has."""
    if sub.kind == "modal":  # answers to the jobs' tasks, priced by kind
        return campaign.pricing.get("modal")
    return graph.price(campaign, sub.key) if sub.key in graph.nodes else 0.0
