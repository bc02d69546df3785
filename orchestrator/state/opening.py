"""The one way commands open state: a SQLite file or a PostgreSQL URL, chosen by location."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.state.location import PostgresUrl, locate_state, parse_postgres_url
from orchestrator.state.sql_store import SqlStore


def open_state(location: str | Path | None, campaign: str, *, default_path: Path) -> SqlStore:
    """Open the state of ``campaign`` at ``location`` (``--state``), else ``$MJV_STATE``,
    else ``default_path``: a ``postgresql://`` URL opens PostgreSQL, anything else a file."""
    found = locate_state(location, default_path=default_path)
    if isinstance(found, PostgresUrl):
        return open_postgres(found, campaign)
    return open_store(found, campaign)


def open_store(path: Path, campaign: str, *, clock: Callable[[], float] = time.time) -> SqlStore:
    """Open (creating or migrating) the state file at ``path`` for ``campaign``."""
    from orchestrator.state import sqlite_file  # the one module importing sqlite3

    return SqlStore(sqlite_file.connect(Path(path), clock), campaign)


def open_postgres(url: PostgresUrl | str, campaign: str) -> SqlStore:
    """Connect to the state at ``url`` (creating or migrating its schema) for ``campaign``."""
    # Imported here: only PostgreSQL users need psycopg installed.
    from orchestrator.state import postgres_link

    found = url if isinstance(url, PostgresUrl) else parse_postgres_url(url)
    return SqlStore(postgres_link.connect(found), campaign)


def state_found(location: str | Path | None, *, default_path: Path) -> bool:
    """True unless the state is a file that does not exist yet (looking must not create it)."""
    found = locate_state(location, default_path=default_path)
    return isinstance(found, PostgresUrl) or found.exists()
