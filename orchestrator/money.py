"""How an amount of money is shown: two decimals and the campaign's unit (pricing.currency)."""

from __future__ import annotations


def shown(amount: float | None, currency: str) -> str:
    """``1.80 USD``; ``unknown`` for an amount nobody knows (never shown as zero)."""
    if amount is None:
        return "unknown"
    return f"{amount:.2f} {currency}".rstrip()


def cap(amount: float, currency: str) -> str:
    """A cap as it was written (``5``, ``2.5``), with its unit."""
    return f"{amount:g} {currency}".rstrip()
