"""Prices per provider: the published sheets, and the one lookup every price goes through.

A submission's price key names what it costs: for CometAPI the speed mode (video, extend) or the
kind (imagine, upscale, upload, modal), as ``pricing:`` has always spelled it; for another
provider ``<provider>:<key>``, with ``_hd`` for an HD clip, ``extend`` for an extension, and
``*N`` when that provider bills each of a create's N clips. Unknown prices stay unknown (None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from orchestrator.providers import DEFAULT_PROVIDER, provider_info

HD_VIDEO = "vid_1.1_i2v_720"
VIDEO_KINDS = ("video", "extend")


@dataclass(frozen=True)
class PriceSheet:
    """A provider's published prices, with where and when they were read and their unit."""

    prices: Mapping[str, float]
    unit: str  # "per call" or "per clip (times the batch size)"
    read: str  # the date the figures were read
    source: str


PUBLISHED: Mapping[str, PriceSheet] = MappingProxyType(
    {
        "cometapi": PriceSheet(
            MappingProxyType({"fast": 0.6}),
            "per call",
            "2026 (API.md rev. 3)",
            "CometAPI price list, mj_fast_video",
        ),
        "apimart": PriceSheet(
            MappingProxyType({"fast": 0.20, "fast_hd": 0.40}),
            "per clip (times the batch size)",
            "2026-08-22",
            "apimart.ai/zh/pricing via third-party notes (secondary): 2 and 4 credits",
        ),
        "kie": PriceSheet(
            MappingProxyType({"fast": 0.075, "fast_hd": 0.225, "extend": 0.30}),
            "per clip (times the batch size)",
            "2026 (undated community tables)",
            "community price tables (secondary): 15, 45 and 60 credits of $0.005",
        ),
    }
)
PRICE_KEYS = (
    "fast",
    "relax",
    "turbo",
    "fast_hd",
    "turbo_hd",
    "extend",
    "imagine",
    "upscale",
    "upload",
    "modal",
)


def price_key(provider: str, kind: str, mode: str, video_type: str = "", batch: int = 1) -> str:
    """The price key of one submission of ``kind`` on ``provider``."""
    if provider == DEFAULT_PROVIDER:  # HD priced apart (``fast_hd``), its extensions too
        hd = video_type == HD_VIDEO and mode != "relax"  # relax makes SD clips only
        return (mode + ("_hd" if hd else "")) if kind in VIDEO_KINDS else kind
    if kind == "extend":
        base = "extend"
    elif kind == "video":
        base = mode + ("_hd" if video_type == HD_VIDEO else "")
    else:
        base = kind
    # Kie's extend takes no batch size: one extension, one price.
    per_clip = provider_info(provider).price_unit == "clip" and kind == "video"
    return f"{provider}:{base}" + (f"*{batch}" if per_clip and batch != 1 else "")


def split_key(key: str) -> tuple[str, str, int]:
    """(provider, key in its sheet, clips billed) of a price key."""
    provider, _, rest = key.rpartition(":")
    base, _, clips = rest.partition("*")
    return provider or DEFAULT_PROVIDER, base, int(clips or 1)


def lookup(prices_of: Callable[[str], Mapping[str, float]], key: str) -> float | None:
    """The price of one submission with price key ``key``; None when unknown."""
    provider, base, clips = split_key(key)
    price = prices_of(provider).get(base)
    return None if price is None else round(price * clips, 6)


def resolve_tables(
    provider: str, flat: Mapping[str, float], nested: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """Every provider's prices: published, then the spec's flat keys (for the spec's provider),
    then ``pricing.<provider>``."""
    tables = {name: dict(sheet.prices) for name, sheet in PUBLISHED.items()}
    tables[provider] = {**tables.get(provider, {}), **flat}
    for name, prices in nested.items():
        tables[name] = {**tables.get(name, {}), **prices}
    return tables
