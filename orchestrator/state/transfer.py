"""Copying campaigns' state between locations (SQLite file <-> PostgreSQL), nothing lost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import StateError
from orchestrator.state.location import redact
from orchestrator.state.opening import open_state, state_found
from orchestrator.state.sql_store import SqlStore


@dataclass(frozen=True)
class Copied:
    """What one campaign's copy carried over."""

    campaign: str
    submissions: int
    attempts: int
    files: int


def copy_state(source: str | Path, target: str | Path, campaign: str | None = None) -> list[Copied]:
    """Copy ``campaign`` (every campaign when None) from ``source`` to ``target``.

    Refuses, before writing anything, when ``target`` already holds one of them.
    """
    if not state_found(source, default_path=Path(source)):
        raise StateError(f"no state at {_shown(source)}: nothing to copy")
    with _open(source) as src, _open(target) as dst:
        names = _chosen(src, campaign, source)
        clash = sorted(set(names) & set(dst.campaign_names()))
        if clash:
            raise StateError(
                f"{_shown(target)} already has campaign {', '.join(clash)}; refusing to "
                "overwrite it (copy to an empty location or another schema)"
            )
        return [_copy_one(src, dst, name) for name in names]


def _open(location: str | Path) -> SqlStore:
    """Open a location for copying (the store's campaign is irrelevant here)."""
    return open_state(location, "", default_path=Path(location))


def _chosen(src: SqlStore, campaign: str | None, source: str | Path) -> Sequence[str]:
    """The campaigns to copy; StateError when the one asked for is not in ``source``."""
    names = src.campaign_names()
    if campaign is None:
        return names
    if campaign not in names:
        raise StateError(f"{_shown(source)} has no campaign {campaign!r}")
    return [campaign]


def _copy_one(src: SqlStore, dst: SqlStore, campaign: str) -> Copied:
    """Copy one campaign and count what went over."""
    dump = src.export_campaign(campaign)
    dst.import_campaign(dump)
    count = {table: len(rows) for table, rows in dump.tables.items()}
    return Copied(campaign, count["submissions"], count["attempts"], count["files"])


def _shown(location: str | Path) -> str:
    """A location as messages show it: URLs without their password."""
    return redact(location) if isinstance(location, str) and "://" in location else str(location)
