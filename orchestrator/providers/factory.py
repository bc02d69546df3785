"""Clients for the providers a campaign uses: one adapter per provider, one router over them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from orchestrator.client import Client
from orchestrator.errors import UsageError
from orchestrator.model import Campaign
from orchestrator.providers import DEFAULT_PROVIDER, provider_info
from orchestrator.providers.apimart import ApimartProvider
from orchestrator.providers.apimart import error_of as apimart_errors
from orchestrator.providers.kie import KieProvider
from orchestrator.providers.kie import error_of as kie_errors
from orchestrator.providers.router import Account, Router


def adapter(provider: str, api_key: str, base_url: str | None = None, **kw: Any) -> Pingable:
    """A client of ``provider`` with a known key (the simulator's, in tests and --simulate)."""
    url = base_url or provider_info(provider).base_url
    if provider == "apimart":
        return ApimartProvider(Client(api_key, url, error_map=apimart_errors, **kw))
    if provider == "kie":
        return KieProvider(Client(api_key, url, error_map=kie_errors, **kw))
    return Client(api_key, url, **kw)


class Pingable(Account, Protocol):
    """A single provider's client, as `mjv doctor` uses it."""

    @property
    def base_url(self) -> str: ...

    @property
    def shown_url(self) -> str: ...

    async def ping(self) -> float: ...


def adapter_from_env(
    provider: str, base_url: str | None = None, env: Mapping[str, str] | None = None
) -> Pingable:
    """A client of ``provider`` from its environment variables (ConfigError when no key)."""
    if provider == "apimart":
        return ApimartProvider(
            Client.from_env(base_url, env, provider=provider, error_map=apimart_errors)
        )
    if provider == "kie":
        return KieProvider(Client.from_env(base_url, env, provider=provider, error_map=kie_errors))
    return Client.from_env(base_url, env, provider=provider)


def campaign_providers(campaign: Campaign) -> list[str]:
    """The providers a campaign's jobs use, CometAPI first when present."""
    names = {job.provider for job in campaign.jobs} or {DEFAULT_PROVIDER}
    return sorted(names, key=lambda n: (n != DEFAULT_PROVIDER, n))


def route(clients: Mapping[str, Account]) -> Account:
    """The one client of a single-provider campaign (as before), else a router over them."""
    if set(clients) == {DEFAULT_PROVIDER}:
        return clients[DEFAULT_PROVIDER]
    return Router(clients)


def open_clients(
    providers: Iterable[str], base_url: str | None = None, env: Mapping[str, str] | None = None
) -> Account:
    """Clients from the environment for ``providers``; ``base_url`` only with a single one."""
    names = list(providers)
    if base_url and len(names) > 1:
        raise UsageError(
            f"--base-url names one provider's URL, and this campaign uses {', '.join(names)}; "
            "set each provider's own base URL variable instead"
        )
    url = base_url
    clients: dict[str, Account] = {name: adapter_from_env(name, url, env) for name in names}
    return route(clients)
