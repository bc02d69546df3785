"""The capability matrix applied to a spec: what a job's provider cannot make is a problem.

Each problem sits at the spec field that asks for it (file:line) and names the provider.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from orchestrator.errors import UsageError
from orchestrator.model import ImageSource, Settings
from orchestrator.providers import DEFAULT_PROVIDER, PROVIDER_NAMES
from orchestrator.providers.capabilities import (
    CAPABILITIES,
    Refusal,
    chain_refusals,
    image_refusals,
    prompt_refusals,
    setting_refusals,
)
from orchestrator.spec.images import ImageTable
from orchestrator.spec.problems import JsonPath


class Expansion(Protocol):
    """The part of the expander the checks report through."""

    images: ImageTable
    data: dict[str, Any]

    def origin(
        self, i: int, entry: dict[str, Any], row: dict[str, Any], setting: str
    ) -> JsonPath: ...

    def report(
        self,
        path: JsonPath,
        message: str,
        key: str | None = None,
        at: tuple[int, int] | None = None,
    ) -> None: ...


def spec_provider(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str:
    """The campaign's provider: $MJV_PROVIDER, else the spec's ``provider:``, else cometapi."""
    chosen = (os.environ if env is None else env).get("MJV_PROVIDER", "").strip()
    if chosen and chosen not in PROVIDER_NAMES:
        known = ", ".join(PROVIDER_NAMES)
        raise UsageError(f"MJV_PROVIDER={chosen!r} is not a provider (known: {known})")
    return chosen or str(data.get("provider") or DEFAULT_PROVIDER)


def check_variant(
    ex: Expansion,
    i: int,
    entry: dict[str, Any],
    row: dict[str, Any],
    provider: str,
    settings: Settings,
    end: ImageSource | None,
) -> None:
    """Report what ``provider`` refuses in one matrix row of job template ``i``."""
    refusals: list[Refusal] = list(setting_refusals(provider, settings, end is not None))
    steps = entry.get("extend", [])
    auto = sum(1 for step in steps if "prompt" not in step)
    moved = sum(1 for step in steps if "motion" in step)
    refusals += chain_refusals(provider, len(steps), auto, moved)
    caps = CAPABILITIES[provider]
    if not (caps.uploads and caps.stills):  # globs can hold thousands of files: skip if moot
        for image in _images(ex, entry, end):
            refusals += image_refusals(provider, image.kind, image.name)
    for refusal in refusals:
        ex.report(_where(ex, i, entry, row, refusal.field), refusal.message)


def check_prompt(
    ex: Expansion, i: int, entry: dict[str, Any], job: str, provider: str, prompt: str | None
) -> None:
    """Report a rendered motion prompt ``provider`` refuses (missing, or too long)."""
    where: JsonPath = ("jobs", i, "prompts") if "prompts" in entry else ("jobs", i)
    for refusal in prompt_refusals(provider, prompt):
        ex.report(where, f"{refusal.message} (job {job!r})", key=refusal.message)


def _images(ex: Expansion, entry: dict[str, Any], end: ImageSource | None) -> Iterable[ImageSource]:
    for name in entry.get("images", ()):
        yield from ex.images.get(name, ())
    if end is not None:
        yield end


def _where(
    ex: Expansion, i: int, entry: dict[str, Any], row: dict[str, Any], field: str
) -> JsonPath:
    if field in ("extend", "images"):
        return ("jobs", i, field)
    if field == "prompts":
        return ("jobs", i, "prompts") if "prompts" in entry else ("jobs", i)
    path = ex.origin(i, entry, row, field)
    if path == ("jobs", i):  # the mjv default is what the provider refuses: point at the provider
        path = ex.origin(i, entry, row, "provider")
        if path == ("jobs", i) and "provider" in ex.data:
            return ("provider",)
    return path
