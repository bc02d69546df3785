"""The state file of ``mjv run``: the Store interface and its SQLite implementation."""

from orchestrator.state.leases import holder_is_dead, make_owner
from orchestrator.state.location import default_state_path
from orchestrator.state.records import (
    KINDS,
    STATUSES,
    Attempt,
    FileRecord,
    FileVersion,
    Submission,
    SubmissionSpec,
    Totals,
)
from orchestrator.state.schema import SCHEMA_VERSION
from orchestrator.state.sqlite_store import SqliteStore, open_store
from orchestrator.state.store import Store

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "STATUSES",
    "Attempt",
    "FileRecord",
    "FileVersion",
    "SqliteStore",
    "Store",
    "Submission",
    "SubmissionSpec",
    "Totals",
    "default_state_path",
    "holder_is_dead",
    "make_owner",
    "open_store",
]
