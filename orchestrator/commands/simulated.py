"""What `--simulate` changes for any verb: its own output folder, state file and provider world."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from orchestrator.model import Campaign
from orchestrator.state import default_state_path

SUFFIX = "-simulated"


def simulated(campaign: Campaign) -> Campaign:
    """The campaign writing to ``<output.dir>-simulated``: simulated clips never mix with paid."""
    folder = campaign.output_dir
    return replace(campaign, output_dir=folder.with_name(folder.name + SUFFIX))


def world_path(campaign: Campaign) -> Path:
    """The simulated provider's world (tasks, uploads, clips, charges), beside its state."""
    return default_state_path(campaign.spec_path, simulated=True).with_suffix(".world.jsonl")


def state_choice(
    campaign: Campaign, state: str | None, simulate: bool
) -> tuple[Campaign, str | None, Path]:
    """(campaign, --state location, default path) of a verb: simulated work has its own folder
    and file, and ignores $MJV_STATE so it never mixes with a team's real state."""
    default = default_state_path(campaign.spec_path, simulate)
    if not simulate:
        return campaign, state, default
    return simulated(campaign), state or str(default), default
