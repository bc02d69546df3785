"""The resellers mjv speaks: their names, where their keys live, and what each one can do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PROVIDER = "cometapi"


@dataclass(frozen=True)
class ProviderInfo:
    """Where a provider lives and which environment variables hold its URL and key."""

    name: str
    base_url: str
    key_vars: tuple[str, ...]
    url_vars: tuple[str, ...]
    price_unit: str  # "call": one price per submission; "clip": times the batch size


PROVIDERS: Mapping[str, ProviderInfo] = {
    info.name: info
    for info in (
        ProviderInfo(
            "cometapi",
            "https://api.cometapi.com",
            ("MJV_API_KEY", "COMETAPI_KEY"),
            ("MJV_BASE_URL",),
            "call",
        ),
        ProviderInfo(
            "apimart",
            "https://api.apimart.ai",
            ("MJV_APIMART_API_KEY", "APIMART_API_KEY"),
            ("MJV_APIMART_BASE_URL",),
            "clip",
        ),
        ProviderInfo(
            "kie",
            "https://api.kie.ai",
            ("MJV_KIE_API_KEY", "KIE_API_KEY"),
            ("MJV_KIE_BASE_URL",),
            "clip",
        ),
    )
}
PROVIDER_NAMES = tuple(PROVIDERS)
KEY_VARIABLES = tuple(name for info in PROVIDERS.values() for name in info.key_vars)
"""Every variable an API key is read from: output is scrubbed of all of them."""


def provider_info(name: str) -> ProviderInfo:
    """The registry entry of ``name``; ValueError names the known providers."""
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(PROVIDER_NAMES)
        raise ValueError(f"unknown provider {name!r} (known: {known})") from None
