"""The PostgreSQL state's schema and migrations; the only module that imports psycopg."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ConfigError, StateError
from orchestrator.state.url import PostgresUrl, password_of

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = 2
INSTALL_HINT = "install the PostgreSQL driver with: pip install 'mjv[postgres]'"
# Seconds since the epoch on the DATABASE's clock: every runner's leases expire by one clock.
NOW = "extract(epoch FROM clock_timestamp())::float8"

Migration = Callable[["psycopg.Connection[Any]"], None]

# Money is stored as integer micro-units so running totals never drift.
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
        kind TEXT NOT NULL CHECK (kind IN ('video', 'extend', 'imagine', 'upscale', 'upload')),
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
        request TEXT,
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
        sent_key TEXT,
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
    """CREATE TABLE file_versions (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        replaced_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, key, attempt, idx))""",
    """CREATE TABLE slots (
        account TEXT NOT NULL,
        slot INTEGER NOT NULL,
        owner TEXT,
        until DOUBLE PRECISION,
        PRIMARY KEY (account, slot))""",
    """CREATE TABLE holds (
        campaign TEXT NOT NULL,
        owner TEXT NOT NULL,
        amount BIGINT NOT NULL,
        until DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, owner))""",
)


def _create_v1(db: psycopg.Connection[Any]) -> None:
    """Version 0 (an empty schema) -> 1: every table of the first release."""
    for statement in _V1:
        db.execute(statement)


def _modal_answers_v2(db: psycopg.Connection[Any]) -> None:
    """1 -> 2: a modal answer is a paid call of its own (kind 'modal'), sent through the same
    intent, budget hold and lease as every other."""
    db.execute("ALTER TABLE submissions DROP CONSTRAINT submissions_kind_check")
    db.execute(
        "ALTER TABLE submissions ADD CONSTRAINT submissions_kind_check CHECK (kind IN"
        " ('video', 'extend', 'imagine', 'upscale', 'upload', 'modal'))"
    )


# MIGRATIONS[i] upgrades a schema from version i to i + 1; append, never edit a released one.
MIGRATIONS: Sequence[Migration] = (_create_v1, _modal_answers_v2)


def driver() -> Any:
    """The psycopg module, or a ConfigError saying how to install it."""
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError(f"a postgresql:// state needs psycopg 3; {INSTALL_HINT}") from exc
    return psycopg


@contextmanager
def translated(url: PostgresUrl) -> Iterator[None]:
    """Turn every psycopg failure into a StateError naming the URL without its password."""
    pg = driver()
    try:
        yield
    except pg.Error as exc:
        raise StateError(f"state {url.shown}: {scrub(str(exc).strip(), url)}") from None


def scrub(message: str, url: PostgresUrl) -> str:
    """``message`` with the URL's password blanked out, should a server ever echo it."""
    password = password_of(url.conninfo)
    return message.replace(password, "***") if password else message


def connect(url: PostgresUrl) -> psycopg.Connection[Any]:
    """Connect (autocommit, search_path = the state's schema) and migrate; StateError if not."""
    pg = driver()
    with translated(url):
        db: psycopg.Connection[Any] = pg.connect(url.conninfo, autocommit=True)
    try:
        with translated(url):
            _migrate(db, url)
            db.execute(pg.sql.SQL("SET search_path TO {}").format(_schema(url)))
    except BaseException:
        db.close()
        raise
    return db


def _schema(url: PostgresUrl) -> Any:
    """The schema name as a quoted SQL identifier."""
    return driver().sql.Identifier(url.schema)


def _migrate(db: psycopg.Connection[Any], url: PostgresUrl) -> None:
    """Create or upgrade the schema, one runner at a time (a transaction-level advisory lock)."""
    sql = driver().sql
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"mjv-state:{url.schema}",))
        db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(_schema(url)))
        db.execute(sql.SQL("SET LOCAL search_path TO {}").format(_schema(url)))
        version = read_version(db, url)
        if version > SCHEMA_VERSION:
            raise StateError(
                f"state {url.shown} has schema version {version}, newer than this mjv supports "
                f"({SCHEMA_VERSION}); it was left untouched. Upgrade mjv or use another schema."
            )
        for migration in MIGRATIONS[version:SCHEMA_VERSION]:
            migration(db)
        db.execute(
            "INSERT INTO meta (name, value) VALUES ('schema_version', %s)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (str(max(version, SCHEMA_VERSION)),),
        )


def read_version(db: psycopg.Connection[Any], url: PostgresUrl) -> int:
    """The schema's version: 0 when it has no table, StateError when it holds foreign tables."""
    tables = {
        row[0]
        for row in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (url.schema,),
        )
    }
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        if row is not None and str(row[0]).isdigit():
            return int(row[0])
    elif not tables:
        return 0
    raise StateError(
        f"schema {url.schema} of {url.shown} holds tables that are not an mjv state; it was "
        "left untouched. Choose another schema with ?schema=NAME."
    )
