"""The simulator's provider profiles: CometAPI itself, or a front speaking another reseller."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.providers import PROVIDER_NAMES
from orchestrator.simulator.apimart import ApimartFront
from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.front import Front
from orchestrator.simulator.kie import KieFront
from orchestrator.simulator.provider import FakeProvider

PROFILES = PROVIDER_NAMES
KIE_RETENTION = 15 * 86400.0  # "retained for 15 days before being deleted"


def profile_config(profile: str, config: SimulatorConfig) -> SimulatorConfig:
    """What a profile changes in the account: Kie documents no refund of a failed task, and
    deletes its files after 15 days."""
    if profile not in PROFILES:
        raise ValueError(f"unknown simulator profile {profile!r} (known: {', '.join(PROFILES)})")
    if profile != "kie":
        return config
    return replace(config, refunds=False, clip_ttl=config.clip_ttl or KIE_RETENTION)


def make_front(profile: str, inner: FakeProvider) -> Front:
    """The object the server hands requests to for ``profile``."""
    if profile == "apimart":
        return ApimartFront(inner)
    if profile == "kie":
        return KieFront(inner)
    return inner
