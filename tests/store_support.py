"""Opening either store for the contract tests: a fresh SQLite file or a fresh PG schema."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.state import Store
from orchestrator.state.opening import open_state

BACKENDS = ("sqlite", "postgres")
_SCHEMAS = itertools.count()

Opener = Callable[..., Store]


def fresh_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state location nobody used yet: a file under tmp_path, or a new schema on the server."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    url: str = request.getfixturevalue("postgres_url")
    return f"{url}&schema=t{next(_SCHEMAS)}"


def opener(location: str, tmp_path: Path) -> Opener:
    """A function opening ``location`` for a campaign (default ``demo``)."""

    def open_(campaign: str = "demo") -> Store:
        return open_state(location, campaign, default_path=tmp_path / "unused.db")

    return open_
