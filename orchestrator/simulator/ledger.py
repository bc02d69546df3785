"""The simulated account's money and request log: charges, refunds and every submit received."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SUBMIT_KINDS = frozenset({"video", "extend", "imagine", "action"})  # counted per key
VIDEO_KINDS = frozenset({"video", "extend"})  # priced by speed mode


@dataclass(frozen=True)
class Charge:
    """One line of the ledger: a charge, or (``refund``) the money given back for a task."""

    kind: str  # video, extend, imagine, action, modal, upload
    mode: str  # fast, relax or turbo (the path prefix)
    key: str  # the Idempotency-Key header, else the body's state ("" when neither)
    task_id: str  # "" for an upload
    amount: float  # always positive; a refund subtracts it
    refund: bool = False


@dataclass(frozen=True)
class SubmitRecord:
    """One submit request as received, with the answer it got."""

    route: str  # video, extend, imagine, action, modal, upload
    mode: str
    key: str  # the Idempotency-Key header ("" when absent)
    state: str
    status: int  # the HTTP status answered
    code: int | None  # the envelope's (or error body's) code, None for a non-JSON answer
    charged: bool
    task_id: str = ""  # the task the request was charged for or pointed at
    dropped: bool = False  # the connection was closed instead of answering


def price_key(kind: str, mode: str, hd: bool = False) -> str:
    """The ``prices`` entry of a charge: the mode (``_hd`` for HD) for a video, else the kind."""
    if kind in VIDEO_KINDS:
        return f"{mode}_hd" if hd else mode
    return "upscale" if kind == "action" else kind


class Ledger:
    """Charges and refunds in order, plus the request log; counters derived as entries arrive."""

    def __init__(self, prices: Mapping[str, float]) -> None:
        self._prices = prices
        self.entries: list[Charge] = []
        self.submits: list[SubmitRecord] = []
        self.per_key: Counter[str] = Counter()  # charged submits per key
        self.keys: dict[str, str] = {}  # key -> the latest task charged under it
        self.charged_calls = 0  # charges, refunds not subtracted (what `credits` counts)
        self._open: dict[str, Charge] = {}  # task id -> its charge not yet refunded
        # A provider profile's own price list (kind, mode, task id -> amount; None: the table).
        self.pricer: Callable[[str, str, str], float | None] | None = None

    def charge(self, kind: str, mode: str, key: str, task_id: str, hd: bool = False) -> Charge:
        """Record (and return) a charge at the configured price."""
        special = self.pricer(kind, mode, task_id) if self.pricer else None
        table = float(self._prices.get(price_key(kind, mode, hd), 0.0))
        amount = special if special is not None else table
        entry = Charge(kind, mode, key, task_id, amount)
        self.apply(entry)
        return entry

    def refund_of(self, task_id: str) -> Charge | None:
        """Return the refund entry for a failed task's charge (None if it was never charged)."""
        charge = self._open.get(task_id)
        if charge is None:
            return None
        return Charge(charge.kind, charge.mode, charge.key, task_id, charge.amount, refund=True)

    def apply(self, entry: Charge) -> None:
        """Append an entry (new, or replayed from the world file)."""
        self.entries.append(entry)
        if entry.refund:
            self._open.pop(entry.task_id, None)
            return
        if entry.task_id:
            self._open[entry.task_id] = entry
        self.charged_calls += 1
        if entry.kind in SUBMIT_KINDS:
            self.per_key[entry.key] += 1
            if entry.key:
                self.keys[entry.key] = entry.task_id

    def money(self) -> float:
        """Net amount: charges minus refunds, rounded to 1e-6."""
        return round(sum(-e.amount if e.refund else e.amount for e in self.entries), 6)
