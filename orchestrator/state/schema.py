"""The state's tables, once for both databases, and the one ordered list of migrations.

The DDL uses types both databases read the same way (SQLite gives BIGINT integer affinity and
DOUBLE PRECISION real affinity), so one text creates an SQLite file and a PostgreSQL schema.
Money is stored in integer micro-units (``records.MICROS``) so running totals never drift.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from orchestrator.errors import StateError

SCHEMA_VERSION = 5
# PostgreSQL schemas had their own numbering before the stores were one: its version 1 held
# every table of version 3 here.
POSTGRES_RELEASED = {1: 3}


class Executor(Protocol):
    """A driver connection (sqlite3 or psycopg): enough to run DDL."""

    def execute(self, sql: Any, /) -> Any: ...


Migration = Callable[[Executor], None]

_V1 = (
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE campaigns (
        campaign TEXT PRIMARY KEY,
        reserved BIGINT NOT NULL DEFAULT 0,
        charged BIGINT NOT NULL DEFAULT 0,
        refunded BIGINT NOT NULL DEFAULT 0)""",
    """CREATE TABLE submissions (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        job TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('video', 'extend', 'imagine', 'upscale')),
        step INTEGER NOT NULL,
        parent TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'submitting', 'submitted', 'running',
                                                'succeeded', 'downloaded', 'failed')),
        attempt INTEGER NOT NULL DEFAULT 0,
        task_id TEXT,
        failure TEXT CHECK (failure IN ('retryable', 'final')),
        reason TEXT,
        clip_urls TEXT NOT NULL DEFAULT '[]',
        image_url TEXT,
        lease_owner TEXT,
        lease_until DOUBLE PRECISION,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, key))""",
    """CREATE INDEX submissions_by_lease ON submissions (lease_owner, campaign)
        WHERE lease_owner IS NOT NULL""",
    """CREATE TABLE attempts (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        task_id TEXT,
        reserved BIGINT NOT NULL DEFAULT 0,
        charged BIGINT NOT NULL DEFAULT 0,
        refunded BIGINT NOT NULL DEFAULT 0,
        outcome TEXT,
        reason TEXT,
        started_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, key, attempt))""",
    """CREATE TABLE files (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        PRIMARY KEY (campaign, key, idx))""",
    """CREATE TABLE uploads (
        sha256 TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        recorded_at DOUBLE PRECISION NOT NULL)""",
)
_V1_LAST_COLUMN = "updated_at DOUBLE PRECISION NOT NULL,"
_V1_SUBMISSION_COLUMNS = (
    "campaign, key, job, kind, step, parent, status, attempt, task_id, failure, reason,"
    " clip_urls, image_url, lease_owner, lease_until, updated_at"
)
# Records of files a submission replaced (--force, retry, adoption): a paid clip is never lost.
_FILE_VERSIONS = """CREATE TABLE file_versions (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        replaced_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, key, attempt, idx))"""
# IF NOT EXISTS: SQLite files of version 2 may have them already (they were made on open).
_V3 = (
    """CREATE TABLE IF NOT EXISTS slots (
        account TEXT NOT NULL,
        slot INTEGER NOT NULL,
        owner TEXT,
        until DOUBLE PRECISION,
        PRIMARY KEY (account, slot))""",
    """CREATE TABLE IF NOT EXISTS holds (
        campaign TEXT NOT NULL,
        owner TEXT NOT NULL,
        amount BIGINT NOT NULL,
        until DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, owner))""",
)


def _create_v1(db: Executor) -> None:
    """Version 0 (empty) -> 1: every table of the first release."""
    for statement in _V1:
        db.execute(statement)


def _rebuild_submissions(db: Executor, kinds: str, copied: str) -> None:
    """Recreate the submissions table allowing ``kinds``, its ``copied`` columns kept.

    Through a copy without constraints, so that no index name outlives the old table
    (PostgreSQL keeps index names across a rename).
    """
    db.execute("CREATE TABLE submissions_old AS SELECT * FROM submissions")
    db.execute("DROP TABLE submissions")
    table = _V1[2].replace("'imagine', 'upscale'", kinds)
    db.execute(table.replace(_V1_LAST_COLUMN, f"{_V1_LAST_COLUMN} request TEXT,"))
    db.execute(_V1[3])
    db.execute(f"INSERT INTO submissions ({copied}) SELECT {copied} FROM submissions_old")
    db.execute("DROP TABLE submissions_old")


def _to_v2(db: Executor) -> None:
    """1 -> 2: uploads are charged, so they are submissions (kind 'upload') with attempts;
    each submission keeps the request it stands for (why a job changed); each attempt keeps
    the idempotency key it was sent with; replaced files are kept in file_versions."""
    _rebuild_submissions(db, "'imagine', 'upscale', 'upload'", _V1_SUBMISSION_COLUMNS)
    db.execute("ALTER TABLE attempts ADD COLUMN sent_key TEXT")
    db.execute(_FILE_VERSIONS)


def _to_v3(db: Executor) -> None:
    """2 -> 3: an account's job slots (shared by every campaign) and budget holds."""
    for statement in _V3:
        db.execute(statement)


def _modal_answers_v4(db: Executor) -> None:
    """3 -> 4: a modal answer is a paid call of its own (kind 'modal'), sent through the same
    intent, budget hold and lease as every other, so a crash never loses or repeats its charge."""
    kinds = "'imagine', 'upscale', 'upload', 'modal'"
    _rebuild_submissions(db, kinds, f"{_V1_SUBMISSION_COLUMNS}, request")


# IF NOT EXISTS: states of version 4 may have it already (it was made on first use).
_QC = """CREATE TABLE IF NOT EXISTS qc (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        idx INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        passed INTEGER NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (campaign, key, idx))"""


def _clip_checks_v5(db: Executor) -> None:
    """4 -> 5: the clip checks' results, one row per checked file (issue 20)."""
    db.execute(_QC)


# MIGRATIONS[i] upgrades a state from version i to i + 1; append, never edit a released one.
MIGRATIONS: Sequence[Migration] = (
    _create_v1,
    _to_v2,
    _to_v3,
    _modal_answers_v4,
    _clip_checks_v5,
)


def migrate(db: Executor, version: int) -> None:
    """Run the migrations from ``version`` on (inside the caller's transaction) and stamp it.

    Reads the module's names at call time, so a test can append a migration.
    """
    for migration in MIGRATIONS[version:SCHEMA_VERSION]:
        migration(db)
    stamp = str(max(version, SCHEMA_VERSION))  # digits only: safe as a literal
    db.execute(
        f"INSERT INTO meta (name, value) VALUES ('schema_version', '{stamp}')"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
    )


def stored_version(db: Executor, tables: set[str], *, released: dict[int, int]) -> int | None:
    """The version of a state holding ``tables`` (its meta read on ``db``); None when foreign."""
    if not tables:
        return 0
    if "meta" not in tables:
        return None
    row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    value = None if row is None else str(row[0])
    return released.get(int(value), int(value)) if value and value.isdigit() else None


def refuse_newer(version: int, shown: str, instead: str) -> None:
    """A state from a newer mjv is never touched: its schema may mean things this one ignores."""
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{shown} has schema version {version}, newer than this mjv supports "
            f"({SCHEMA_VERSION}); it was left untouched. Upgrade mjv or {instead}."
        )


def upgrade(db: Executor, version: int, shown: str, instead: str) -> None:
    """Bring a state of ``version`` up to date inside the caller's transaction (or refuse it)."""
    refuse_newer(version, shown, instead)
    if version < SCHEMA_VERSION:
        migrate(db, version)
