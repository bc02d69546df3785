"""The state file's schema and migrations, and opening a file without ever replacing one."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator.errors import StateError

SCHEMA_VERSION = 3
BUSY_TIMEOUT_SECONDS = 30.0
SQLITE_HEADER = b"SQLite format 3\x00"

Migration = Callable[[sqlite3.Connection], None]

# Money is stored as integer micro-units so running totals never drift.
_V1 = (
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE campaigns (
        campaign TEXT PRIMARY KEY,
        reserved INTEGER NOT NULL DEFAULT 0,
        charged INTEGER NOT NULL DEFAULT 0,
        refunded INTEGER NOT NULL DEFAULT 0)""",
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
        lease_until REAL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (campaign, key))""",
    """CREATE INDEX submissions_by_lease ON submissions (lease_owner, campaign)
        WHERE lease_owner IS NOT NULL""",
    """CREATE TABLE attempts (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        task_id TEXT,
        reserved INTEGER NOT NULL DEFAULT 0,
        charged INTEGER NOT NULL DEFAULT 0,
        refunded INTEGER NOT NULL DEFAULT 0,
        outcome TEXT,
        reason TEXT,
        started_at REAL NOT NULL,
        PRIMARY KEY (campaign, key, attempt))""",
    """CREATE TABLE files (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (campaign, key, idx))""",
    """CREATE TABLE uploads (
        sha256 TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        recorded_at REAL NOT NULL)""",
)


def _create_v1(db: sqlite3.Connection) -> None:
    """Version 0 (an empty file) -> 1: every table of the first release."""
    for statement in _V1:
        db.execute(statement)


_V1_SUBMISSION_COLUMNS = (
    "campaign, key, job, kind, step, parent, status, attempt, task_id, failure, reason,"
    " clip_urls, image_url, lease_owner, lease_until, updated_at"
)


def _uploads_are_submissions_v2(db: sqlite3.Connection) -> None:
    """1 -> 2: uploads are charged, so they are submissions (kind 'upload') with attempts;
    each submission keeps the request it stands for (why a job changed); each attempt keeps
    the idempotency key it was sent with (an in-doubt resend repeats the first one's)."""
    db.execute("ALTER TABLE submissions RENAME TO submissions_v1")
    db.execute("DROP INDEX submissions_by_lease")
    table = _V1[2].replace("'imagine', 'upscale'", "'imagine', 'upscale', 'upload'")
    db.execute(
        table.replace("updated_at REAL NOT NULL,", "updated_at REAL NOT NULL, request TEXT,")
    )
    db.execute(_V1[3])
    db.execute(
        f"INSERT INTO submissions ({_V1_SUBMISSION_COLUMNS})"
        f" SELECT {_V1_SUBMISSION_COLUMNS} FROM submissions_v1"
    )
    db.execute("DROP TABLE submissions_v1")
    db.execute("ALTER TABLE attempts ADD COLUMN sent_key TEXT")


# Records of files a submission replaced (--force, retry, adoption): a paid clip is never lost.
_V2 = (
    """CREATE TABLE file_versions (
        campaign TEXT NOT NULL,
        key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        replaced_at REAL NOT NULL,
        PRIMARY KEY (campaign, key, attempt, idx))""",
)


def _to_v2(db: sqlite3.Connection) -> None:
    """Version 1 -> 2: uploads as submissions, requests and sent keys, the file_versions table."""
    _uploads_are_submissions_v2(db)
    for statement in _V2:
        db.execute(statement)


def _modal_answers_v3(db: sqlite3.Connection) -> None:
    """2 -> 3: a modal answer is a paid call of its own (kind 'modal'), sent through the same
    intent, budget hold and lease as every other, so a crash never loses or repeats its charge."""
    db.execute("ALTER TABLE submissions RENAME TO submissions_v2")
    db.execute("DROP INDEX submissions_by_lease")
    table = _V1[2].replace("'imagine', 'upscale'", "'imagine', 'upscale', 'upload', 'modal'")
    db.execute(
        table.replace("updated_at REAL NOT NULL,", "updated_at REAL NOT NULL, request TEXT,")
    )
    db.execute(_V1[3])
    columns = f"{_V1_SUBMISSION_COLUMNS}, request"
    db.execute(f"INSERT INTO submissions ({columns}) SELECT {columns} FROM submissions_v2")
    db.execute("DROP TABLE submissions_v2")


# MIGRATIONS[i] upgrades a file from version i to i + 1; append, never edit a released one.
MIGRATIONS: Sequence[Migration] = (_create_v1, _to_v2, _modal_answers_v3)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating or migrating) the state file at ``path``; StateError when unusable."""
    _check_header(path)
    _check_writable(path)
    db = _open(path)
    try:
        _prepare(db, path)
    except sqlite3.Error as exc:
        db.close()
        if is_access_error(exc):
            raise not_writable(path, str(exc)) from exc
        raise StateError(f"state file {path} cannot be used: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite before SQLite gets a chance to touch it."""
    try:
        if path.is_dir():
            raise StateError(f"state path {path} is a folder; pass --state with a file path")
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f"cannot read state file {path}: {exc.strerror}") from exc
    if head and head != SQLITE_HEADER:
        raise StateError(
            f"state file {path} is not an SQLite database; it was left untouched. "
            "Move it aside or pass --state to use another file."
        )


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    """Check, switch to WAL and migrate; retried while another process holds the file.

    Switching the journal mode can meet SQLITE_BUSY without the busy handler being asked
    (two processes opening a new file at once); every step is safe to repeat.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            _check_contents(db, path)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            _migrate(db, path)
            _check_clip_urls(db, path)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def writable(path: Path) -> bool:
    """True when this process may write ``path`` (a file or a folder)."""
    return os.access(path, os.W_OK)


def _check_writable(path: Path) -> None:
    """A state file or folder that cannot be written is said so, never called corrupt."""
    if path.exists() and not writable(path):
        raise not_writable(path, "the file is read-only")
    if path.parent.is_dir() and not writable(path.parent):
        raise not_writable(path, f"its folder {path.parent} is read-only")


def is_access_error(exc: sqlite3.Error) -> bool:
    """True for SQLite's ways of saying it may not write (or create) a file."""
    text = str(exc).lower()
    return "readonly" in text or "unable to open" in text or "read-only" in text


def not_writable(path: Path, detail: str) -> StateError:
    """The error for a state file (or its folder) that cannot be written."""
    return StateError(
        f"state file {path} is not writable ({detail}); SQLite also writes its -wal and -shm "
        "files beside it. Fix the permissions, or pass --state to use another file."
    )


def _open(path: Path) -> sqlite3.Connection:
    """Connect in autocommit mode so that every transaction is an explicit BEGIN IMMEDIATE."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise StateError(
            f"cannot open state file {path}: {exc}; make sure its folder is writable "
            "or pass --state to use another file"
        ) from exc


def _check_contents(db: sqlite3.Connection, path: Path) -> None:
    """Read-only checks before the first write: intact, ours, and not from a newer mjv."""
    try:
        verdict = _quick_check(db)
        version = read_version(db, path)
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):  # busy, not damaged: the caller waits and tries again
            raise
        if is_access_error(exc):
            raise not_writable(path, str(exc)) from exc
        raise _corrupt(path, str(exc)) from exc
    if verdict != "ok":
        raise _corrupt(path, str(verdict))
    _refuse_newer(version, path)


def _quick_check(db: sqlite3.Connection) -> str:
    """SQLite's verdict; a damaged file may name things in bytes that are not UTF-8."""
    db.text_factory = lambda raw: raw.decode("utf-8", "replace")
    try:
        return str(db.execute("PRAGMA quick_check").fetchone()[0])
    finally:
        db.text_factory = str


def _check_clip_urls(db: sqlite3.Connection, path: Path) -> None:
    """Every clip_urls value must be a JSON array: name the first job whose value is not."""
    row = db.execute(
        "SELECT job, key FROM submissions WHERE NOT json_valid(clip_urls)"
        " OR json_type(clip_urls) != 'array' LIMIT 1"
    ).fetchone()
    if row is not None:
        raise damaged_clip_urls(path, str(row[0]), str(row[1]))


def damaged_clip_urls(path: Path | None, job: str, key: str) -> StateError:
    """The error for a submission whose clip URLs cannot be read back."""
    where = f"state file {path}" if path else "state file"
    return StateError(
        f"{where} is damaged: job {job} ({key[:12]}) has clip URLs that are not a JSON list; "
        "it was left untouched. Restore it from a backup, or move it aside and run again "
        "(a committed manifest restores finished jobs)."
    )


def _refuse_newer(version: int, path: Path) -> None:
    """A file from a newer mjv is never touched: its schema may mean things this one ignores."""
    if version > SCHEMA_VERSION:
        raise StateError(
            f"state file {path} has schema version {version}, newer than this mjv supports "
            f"({SCHEMA_VERSION}); it was left untouched. Upgrade mjv or pass --state."
        )


def _corrupt(path: Path, detail: str) -> StateError:
    """The error for a damaged file, saying what to do about it."""
    return StateError(
        f"state file {path} is corrupt ({detail}); it was left untouched. Restore it from a "
        "backup, or move it aside and run again (a committed manifest restores finished jobs)."
    )


def read_version(db: sqlite3.Connection, path: Path) -> int:
    """Return the file's schema version: 0 for an empty database, StateError for a foreign one."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        if row is not None and str(row[0]).isdigit():
            return int(row[0])
    elif not tables:
        return 0
    raise StateError(
        f"{path} is an SQLite database but not an mjv state file; it was left untouched. "
        "Pass --state to use another file."
    )


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring an older file up to SCHEMA_VERSION in one transaction (version re-read inside it)."""
    if read_version(db, path) >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated the file while this one waited for the lock.
        version = read_version(db, path)
        _refuse_newer(version, path)
        for migration in MIGRATIONS[version:SCHEMA_VERSION]:
            migration(db)
        db.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        db.execute("COMMIT")
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
