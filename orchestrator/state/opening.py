"""The one way commands open state: a SQLite file or a PostgreSQL URL, chosen by location."""

from __future__ import annotations

from pathlib import Path

from orchestrator.state.store import Store
from orchestrator.state.url import PostgresUrl, locate_state


def open_state(location: str | Path | None, campaign: str, *, default_path: Path) -> Store:
    """Open the state of ``campaign`` at ``location`` (``--state``), else ``$MJV_STATE``,
    else ``default_path``: a ``postgresql://`` URL opens PostgreSQL, anything else a file."""
    found = locate_state(location, default_path=default_path)
    if isinstance(found, PostgresUrl):
        # Imported here: only PostgreSQL users need psycopg installed.
        from orchestrator.state.postgres_store import open_postgres

        return open_postgres(found, campaign)
    from orchestrator.state.sqlite_store import open_store

    return open_store(found, campaign)


def state_found(location: str | Path | None, *, default_path: Path) -> bool:
    """True unless the state is a file that does not exist yet (looking must not create it)."""
    found = locate_state(location, default_path=default_path)
    return isinstance(found, PostgresUrl) or found.exists()
