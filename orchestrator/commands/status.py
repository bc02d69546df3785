"""`mjv status`: counts per state, in-doubt jobs, failures with reasons, money spent."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from orchestrator.commands.simulated import state_choice
from orchestrator.engine.status import CampaignStatus, campaign_status, empty_status
from orchestrator.errors import EXIT_OK
from orchestrator.money import shown
from orchestrator.providers.usage import ProviderUsage, provider_usage
from orchestrator.review.current import reviewed
from orchestrator.review.resolve import files_of_store
from orchestrator.spec import load_campaign
from orchestrator.state import open_state, state_found
from orchestrator.terminal import one_line


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the state of the campaign of ``args.spec``."""
    campaign, location, default = state_choice(
        load_campaign(Path(args.spec)), args.state, args.simulate
    )
    usage: list[ProviderUsage] = []
    if state_found(location, default_path=default):
        with open_state(location, campaign.name, default_path=default) as store:
            campaign = reviewed(campaign, files_of_store(store.all_files()))  # approved steps
            status = campaign_status(campaign, store)
            usage = provider_usage(campaign, store.submissions(), store.money())
    else:  # nothing has run yet; looking must not create a state file
        status = empty_status(campaign)
    if args.format == "json":
        data = {**asdict(status), "providers": [asdict(row) for row in usage]}
        out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        out.write(render(status) + render_usage(usage))
    return EXIT_OK


def render_usage(usage: list[ProviderUsage]) -> str:
    """One line per provider, when more than one did work for the campaign."""
    if len(usage) < 2:
        return ""
    lines = [
        f"  on {u.provider}: {u.submissions} submissions, {u.failed} failed, spent "
        f"{u.spent:.2f}, refunded {u.refunded:.2f}, possibly charged {u.possibly_charged:.2f}"
        for u in usage
    ]
    return "\n".join(lines) + "\n"


def render(status: CampaignStatus) -> str:
    """Human-readable status."""
    lines = [f"campaign {status.campaign}: {status.jobs} jobs"]
    lines.append("  jobs: " + _counts(status.classes))
    lines.append("  submissions: " + _counts(status.states))
    unknown = f" and {status.unpriced} submissions of unknown price" if status.unpriced else ""
    lines.append(
        f"  money: spent {shown(status.spent, status.currency)}{unknown}, "
        f"reserved {shown(status.reserved, status.currency)}, "
        f"refunded {shown(status.refunded, status.currency)}"
    )
    lines += [f"  in doubt: {name} (sent, answer lost)" for name in status.in_doubt]
    lines += [f"  file: {line} (`mjv run` downloads it again)" for line in status.damaged]
    lines += [
        f"  failed ({kind}): {one_line(name)}: {one_line(reason)}"
        for name, kind, reason in status.failures
    ]
    lines += [
        f"  failed its checks: {one_line(line)} (never extended)" for line in status.qc_failed
    ]
    lines += [
        f"  orphaned: {name} (in the state, no longer in the spec)" for name in status.orphaned
    ]
    return "\n".join(lines) + "\n"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"
