"""Where a campaign's state file lives unless --state says otherwise."""

from __future__ import annotations

from pathlib import Path

STATE_DIR = ".mjv"


def default_state_path(spec_path: Path, simulated: bool = False) -> Path:
    """``.mjv/state.db`` beside the spec; simulated runs keep a file of their own."""
    name = "state-simulated.db" if simulated else "state.db"
    return spec_path.parent / STATE_DIR / name
