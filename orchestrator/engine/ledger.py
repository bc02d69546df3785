"""The money of a campaign as the manifest shows it: per job, per source, and in all.

Every figure comes from the state's attempts (``Store.money`` and ``Store.totals``), the same
numbers `mjv status` prints and the run's budget starts from, so they agree to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.graph import SOURCE_KINDS, Graph
from orchestrator.model import Campaign
from orchestrator.state import Money, Submission, Totals


def spent_on(money: Mapping[str, Money], keys: Iterable[str]) -> float:
    """What the given submissions cost, refunds deducted (each key once)."""
    return round(sum(money[key].spent for key in set(keys) if key in money), 6)


def source_entries(
    graph: Graph, subs: Mapping[str, Submission], money: Mapping[str, Money]
) -> list[dict[str, Any]]:
    """One entry per upload, imagine grid and upscale the campaign's jobs need."""
    entries = []
    for node in graph.nodes.values():
        if node.kind not in SOURCE_KINDS:
            continue
        sub = subs.get(node.key)
        entries.append(
            {
                "fingerprint": node.key,
                "kind": str(node.kind),
                "image": node.label,
                "status": sub.status if sub else "pending",
                "task_id": sub.task_id if sub and node.kind != "upload" else None,
                "image_url": sub.image_url if sub and node.kind != "upload" else None,
                "cost": spent_on(money, [node.key]),
            }
        )
    return sorted(entries, key=lambda entry: (entry["image"], entry["kind"]))


def money_totals(
    campaign: Campaign,
    totals: Totals,
    money: Mapping[str, Money],
    sources: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """The campaign's spending in all, and where it went: its jobs, its sources, earlier work."""
    chains = {key for job in campaign.jobs for key in _chain_keys(job)}
    jobs = spent_on(money, chains)
    stills = spent_on(money, [str(source["fingerprint"]) for source in sources])
    return {
        "spent": totals.spent,
        "refunded": totals.refunded,
        "possibly_charged": totals.reserved,
        "spent_on": {
            "jobs": jobs,
            "sources": stills,
            "earlier": round(totals.spent - jobs - stills, 6),
        },
    }


def _chain_keys(job: Any) -> list[str]:
    return [job.fingerprint, *(ext.fingerprint for ext in job.extensions)]
