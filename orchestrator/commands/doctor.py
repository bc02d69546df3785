"""`mjv doctor`: check the key and the base URL against the provider without spending anything."""

from __future__ import annotations

import argparse
import asyncio
from typing import TextIO

from orchestrator.errors import (
    EXIT_ERROR,
    EXIT_OK,
    AuthenticationError,
    ConfigError,
    ProviderError,
    ProviderUnreachableError,
)
from orchestrator.providers import DEFAULT_PROVIDER
from orchestrator.providers.factory import Pingable, adapter_from_env


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Make one authenticated call that creates no task and say what it found; exit 0 or 1."""
    name = getattr(args, "provider", None) or DEFAULT_PROVIDER
    try:
        client = adapter_from_env(name, args.base_url)
    except ConfigError as exc:
        out.write(f"key: not usable ({exc})\n")
        return EXIT_ERROR
    label = "" if name == DEFAULT_PROVIDER else f"{name} at "
    out.write(f"provider: {label}{client.shown_url}\n")
    return asyncio.run(_check(client, out))


async def _check(client: Pingable, out: TextIO) -> int:
    try:
        seconds = await client.ping()
    except ProviderUnreachableError as exc:
        out.write(f"gateway: not reached ({exc})\n")
        return EXIT_ERROR
    except AuthenticationError as exc:
        out.write(f"gateway: reached\nkey: refused ({exc})\n")
        return EXIT_ERROR
    except ProviderError as exc:
        out.write(f"gateway: reached, but it answered with an error: {exc}\n")
        return EXIT_ERROR
    finally:
        await client.aclose()
    out.write(f"gateway: reached\nkey: accepted\nlatency: {seconds * 1000:.0f} ms\n")
    out.write("nothing was submitted and nothing was charged\n")
    return EXIT_OK
