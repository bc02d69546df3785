"""Whole chains held against the cost cap before their first paid submission.

A job's chain (its sources, base clip and every extension) is worth its money only whole: a cap
that stops it half-extended has paid for clips nobody planned. So before a chain's first paid
submission its whole remaining price is reserved, in the run's budget and in the state's budget
holds (shared by every runner of the campaign); a chain that does not fit is not started. Each
submission then spends its own part of the hold; what a chain leaves unspent goes back when it
ends. Without a cap nothing is held.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from orchestrator.engine.pacing import Budget
from orchestrator.errors import BudgetError
from orchestrator.graph import Graph, Kind
from orchestrator.model import Campaign, Job
from orchestrator.money import cap as cap_shown
from orchestrator.money import shown
from orchestrator.state import AsyncStore, Status, Submission

_EPSILON = 1e-9


@dataclass(frozen=True)
class Chain:
    """What one opened chain holds: (key, price) of each submission it reserved."""

    what: str
    keys: tuple[tuple[str, float], ...]


class ChainHolds:
    """The held prices of a run's chains, by submission key."""

    def __init__(self, budget: Budget, store: AsyncStore, owner: str, lease_seconds: float) -> None:
        self._budget = budget
        self._store = store
        self._owner = owner
        self._lease = lease_seconds
        self._held: dict[str, float] = {}  # key -> its price, held until it is sent

    async def open(self, what: str, needs: Sequence[tuple[str, float | None]]) -> Chain:
        """Hold the price of every submission in ``needs`` not held yet, or raise BudgetError.

        ``needs`` are the chain's submissions still to send with their prices (None: unknown).
        """
        cap = self._budget.max_cost
        fresh = [(key, price) for key, price in needs if key not in self._held]
        if cap is None or not fresh:
            return Chain(what, ())
        unknown = sum(1 for _, price in fresh if price is None)
        if unknown:
            raise BudgetError(
                f"{what}: blocked by the budget: {unknown} of its submissions have no known "
                f"price and a cost cap of {cap_shown(cap, self._budget.currency)} is set; give "
                "their price under 'pricing:' "
                "or run without a cap"
            )
        keys = tuple((key, price or 0.0) for key, price in fresh)
        await self._reserve(what, round(sum(price for _, price in keys), 6), cap)
        self._held.update(keys)
        return Chain(what, keys)

    def take(self, key: str) -> contextlib.AbstractAsyncContextManager[None] | None:
        """The held price of ``key``, now being sent: the caller reserves nothing more.

        The returned context keeps the state's hold until the send is over (its intent then
        counts the money); None when ``key``'s price is not held.
        """
        price = self._held.pop(key, None)
        return None if price is None else self._spending(price)

    async def close(self, chain: Chain) -> None:
        """The chain ended: what it holds for submissions never sent goes back."""
        left = [self._held.pop(key) for key, _ in chain.keys if key in self._held]
        amount = round(sum(left), 6)
        if amount:
            self._budget.release(amount)
            await self._store.unreserve(self._owner, amount)

    async def _reserve(self, what: str, amount: float, cap: float) -> None:
        budget = self._budget
        left = cap - budget.spent - budget.reserved
        unit = budget.currency
        message = (
            f"{what}: blocked by the budget: its chain needs {shown(amount, unit)}, "
            f"{shown(max(0.0, left), unit)} left under the cap of {cap_shown(cap, unit)}; "
            "it was not started"
        )
        if amount > left + _EPSILON:
            raise BudgetError(message)
        if not amount:
            return
        budget.reserve(amount, what)
        if not await self._store.reserve(self._owner, amount, cap, self._lease):
            budget.release(amount)
            raise BudgetError(message + " (other runners of this campaign hold the rest)")

    @contextlib.asynccontextmanager
    async def _spending(self, price: float) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if price:
                await self._store.unreserve(self._owner, price)


_PAID = (Status.SUBMITTED, Status.RUNNING, Status.SUCCEEDED, Status.DOWNLOADED)


def chain_needs(
    graph: Graph,
    campaign: Campaign,
    job: Job,
    get: Callable[[str], Submission | None],
    fresh_uploads: Collection[str],
) -> list[tuple[str, float | None]]:
    """(key, price) of each submission of ``job``'s chain still to pay for, sources first.

    An upload is to pay for unless its URL is still fresh; any other submission unless it was
    accepted already. A failed one is left out: it only runs again through `mjv retry`.
    """
    needs: list[tuple[str, float | None]] = []
    for key in graph.needs[job.name]:
        sub = get(key)
        if graph.nodes[key].kind == Kind.UPLOAD:
            paid = key in fresh_uploads
        else:
            paid = sub is not None and sub.status in _PAID
        if not paid and not (sub is not None and sub.status == Status.FAILED):
            needs.append((key, graph.price(campaign, key)))
    return needs


def budget_shortfall(budget: Budget, needs: Mapping[str, float | None]) -> str | None:
    """What to say before a run when the cap cannot pay for every chain whole, else None."""
    cap, unit = budget.max_cost, budget.currency
    if cap is None:
        return None
    known = round(sum(price for price in needs.values() if price is not None), 6)
    unknown = sum(1 for price in needs.values() if price is None)
    left = round(cap - budget.spent - budget.reserved, 6)
    if unknown:
        return (
            f"{unknown} submissions have no known price and a cost cap of "
            f"{cap_shown(cap, unit)} is set: "
            "the chains that need them are not started"
        )
    if known <= left + _EPSILON:
        return None
    return (
        f"the known cost of this run, {shown(known, unit)}, is more than the "
        f"{shown(max(0.0, left), unit)} the cost cap of {cap_shown(cap, unit)} leaves: only the "
        "chains that fit whole are run"
    )
