"""The state of ``mjv run``: the Store interface, on an SQLite file or a PostgreSQL schema."""

from typing import TYPE_CHECKING, Any

from orchestrator.state.leases import holder_is_dead, make_owner
from orchestrator.state.lifecycle import TRANSITIONS, Action, Status
from orchestrator.state.location import STATE_ENV, default_state_path, locate_state, redact
from orchestrator.state.opening import open_postgres, open_state, open_store, state_found
from orchestrator.state.records import (
    KINDS,
    STATUSES,
    Attempt,
    FileRecord,
    FileVersion,
    Money,
    QcRecord,
    Submission,
    SubmissionSpec,
    Totals,
    UploadRecord,
)
from orchestrator.state.schema import SCHEMA_VERSION
from orchestrator.state.sql_store import SqlStore
from orchestrator.state.store import Reads, Store

if TYPE_CHECKING:
    from orchestrator.state.async_store import AsyncStore

SqliteStore = SqlStore  # its name while each database had a store of its own


def __getattr__(name: str) -> Any:
    """``AsyncStore`` on first use: it imports asyncio (45 ms), which a plan never needs."""
    if name == "AsyncStore":
        from orchestrator.state.async_store import AsyncStore

        return AsyncStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "STATE_ENV",
    "STATUSES",
    "TRANSITIONS",
    "Action",
    "AsyncStore",
    "Attempt",
    "FileRecord",
    "FileVersion",
    "Money",
    "QcRecord",
    "Reads",
    "SqlStore",
    "SqliteStore",
    "Status",
    "Store",
    "Submission",
    "SubmissionSpec",
    "Totals",
    "UploadRecord",
    "default_state_path",
    "holder_is_dead",
    "locate_state",
    "make_owner",
    "open_postgres",
    "open_state",
    "open_store",
    "redact",
    "state_found",
]
