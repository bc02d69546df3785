"""`mjv simulate`: serve the provider simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TextIO

from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.providers import DEFAULT_PROVIDER, provider_info
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.simulator.config import DEFAULT_PRICES


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Build the simulator's configuration from the parsed options."""
    return SimulatorConfig(
        job_seconds=args.job_seconds,
        slots=args.slots,
        seed=args.seed,
        api_key=args.api_key,
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        server_error=args.server_error,
        queue_full=args.queue_full,
        banned_words=tuple(args.banned_word),
        fail_rate=args.fail_rate,
        slow=args.slow,
        drop_after_submit=args.drop_after_submit,
        credits=args.credits,
        queue_full_style=args.queue_full_style,
        moderation_style=args.moderation_style,
        honor_idempotency_key=args.honor_idempotency_key,
        quota_style=args.quota_style,
        relay_error=args.relay_error,
        state_unknown=args.state_unknown,
        refusal=args.refusal,
        account_locked=args.account_locked,
        core_size=args.core_size,
        queue_size=args.queue_size,
        day_draw_limit=args.day_draw_limit,
        total_draw_limit=args.total_draw_limit,
        hd=args.hd,
        upload_ttl=args.upload_ttl,
        clip_ttl=args.clip_ttl,
        require_browser_ua=args.require_browser_ua,
        queue_seconds=args.queue_seconds,
        raw_queue_code=args.raw_queue_code,
        stall=args.stall,
        gateway_timeout=args.gateway_timeout,
        blank_status_seconds=args.blank_status_seconds,
        clip_fault=args.clip_fault,
        clip_fault_share=args.clip_fault_share,
        clip_fault_word=args.clip_fault_word,
        prices=prices_from_args(args.price),
    )


def prices_from_args(pairs: list[tuple[str, float]]) -> Mapping[str, float]:
    """The default prices with ``--price KIND=X`` overrides; an unknown kind is a usage error."""
    unknown = sorted({kind for kind, _ in pairs} - set(DEFAULT_PRICES))
    if unknown:
        known = ", ".join(DEFAULT_PRICES)
        raise UsageError(f"--price: unknown kind {', '.join(unknown)} (known: {known})")
    return MappingProxyType({**DEFAULT_PRICES, **dict(pairs)}) if pairs else DEFAULT_PRICES


def exports(profile: str, base_url: str, api_key: str) -> str:
    """The environment lines that point mjv at a simulator speaking ``profile``."""
    info = provider_info(profile)
    lines = [f"  export {info.url_vars[0]}={base_url}", f"  export {info.key_vars[0]}={api_key}"]
    if profile != DEFAULT_PROVIDER:
        lines.append(f"  export MJV_PROVIDER={profile}")
    return "".join(f"{line}\n" for line in lines)


def wait_forever() -> None:
    """Block the calling thread until Ctrl-C raises KeyboardInterrupt."""
    while True:
        time.sleep(3600)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve the simulator on ``args.host:args.port`` and return when interrupted."""
    world = Path(args.world) if args.world else None
    profile = getattr(args, "provider", None) or DEFAULT_PROVIDER
    config = config_from_args(args)
    sim = Simulator(config, port=args.port, host=args.host, world=world, profile=profile)
    try:
        sim.start()
    except OSError as exc:
        sim.stop()
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    out.write(
        f"mjv simulator listening on {sim.base_url}\n"
        + exports(profile, sim.base_url, sim.config.api_key)
        + (f"  world: {world}\n" if world else "")
        + "Press Ctrl-C to stop.\n"
    )
    out.flush()
    try:
        wait_forever()
    except KeyboardInterrupt:
        out.write(f"stopped after {sim.total_requests()} requests\n")
    finally:
        sim.stop()
    return EXIT_OK
