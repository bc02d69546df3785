"""The state on an SQLite file (WAL): opening without ever replacing a file, and its Link.

The only module that imports sqlite3.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator.errors import StateError
from orchestrator.state import schema
from orchestrator.state.dialect import SQLITE, Row
from orchestrator.state.rows import damaged_clip_urls
from orchestrator.state.wakeups import ring

BUSY_TIMEOUT_SECONDS = 30.0
SQLITE_HEADER = b"SQLite format 3\x00"


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``, None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class SqliteLink:
    """One connection to the state file, shared safely across threads."""

    dialect = SQLITE

    def __init__(self, db: sqlite3.Connection, path: Path, clock: Callable[[], float]) -> None:
        self._db = db
        self._lock = threading.RLock()
        self.path = path  # the state file
        self.shown = f"state file {path}"
        self._where = path.absolute()  # a later chdir must not look like a removed file
        self.topic = f"sqlite:{self._where}"
        self._identity = _identity(self._where)
        self._rings: list[str] = []
        self._clock = clock
        db.create_function("mjv_now", 0, clock)

    def check(self) -> None:
        """StateError when the state file was removed or replaced since it was opened.

        Writes to an unlinked file would be lost silently: the run must stop instead.
        """
        if self._identity is not None and _identity(self._where) != self._identity:
            raise StateError(
                f"state file {self.path} was removed or replaced while mjv was using it; "
                "stopping (nothing more is recorded or submitted). Put the file back or run again."
            )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn every SQLite failure into a StateError naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _failed(self.path, exc, StateError(f"{self.shown}: {exc}")) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One BEGIN IMMEDIATE transaction; an inner one joins the outer."""
        with self._lock, self._errors():
            if self._db.in_transaction:
                yield
                return
            self.check()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            finally:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                    self._rings.clear()
            self._ring()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; a write outside a transaction commits at once."""
        with self._lock, self._errors():
            if not self._db.in_transaction and not sql.startswith("SELECT"):
                self.check()
            rows = self._db.execute(sql, args).fetchall()
        self._ring()
        return rows

    def write(self, sql: str, args: Sequence[Any] = ()) -> None:
        """Run one statement whose result is not read."""
        self.execute(sql, args)

    def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows``."""
        with self._lock, self._errors():
            self._db.executemany(sql, rows)

    def read_all(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Run the queries one after another, in a read transaction of their own when none is
        open (one snapshot; like any read, it does not refuse a removed file)."""
        with self._lock, self._errors():
            if self._db.in_transaction:
                return [self._db.execute(sql, args).fetchall() for sql, args in queries]
            self._db.execute("BEGIN")
            try:
                return [self._db.execute(sql, args).fetchall() for sql, args in queries]
            finally:
                self._db.execute("COMMIT")

    def notify(self, channel: str) -> None:
        """Ring ``channel`` in this process once the change is committed."""
        self._rings.append(channel)

    def _ring(self) -> None:
        if self._db.in_transaction:
            return
        while self._rings:
            ring(self.topic, self._rings.pop())

    def listen(self) -> None:
        """Other processes cannot ring: waiters on this file rely on their safety poll."""

    def reopen(self) -> SqliteLink:
        """Another connection to the state file."""
        return connect(self.path, self._clock)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


def connect(path: Path, clock: Callable[[], float]) -> SqliteLink:
    """Open (creating or migrating) the state file at ``path``; StateError when unusable."""
    _check_header(path)
    _check_writable(path)
    db = _open(path)
    try:
        _prepare(db, path)
    except sqlite3.Error as exc:
        db.close()
        raise _failed(path, exc, StateError(f"state file {path} cannot be used: {exc}")) from exc
    except BaseException:
        db.close()
        raise
    return SqliteLink(db, path, clock)


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
        raise _not_writable(path, "the file is read-only")
    if path.parent.is_dir() and not writable(path.parent):
        raise _not_writable(path, f"its folder {path.parent} is read-only")


def _failed(path: Path, exc: sqlite3.Error, otherwise: StateError) -> StateError:
    """The error for ``exc``: a file SQLite may not write (or create) is said so, never called
    corrupt; any other failure is ``otherwise``."""
    text = str(exc).lower()
    if "readonly" in text or "unable to open" in text or "read-only" in text:
        return _not_writable(path, str(exc))
    return otherwise


def _not_writable(path: Path, detail: str) -> StateError:
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
        raise _failed(path, exc, _corrupt(path, str(exc))) from exc
    if verdict != "ok":
        raise _corrupt(path, str(verdict))
    schema.refuse_newer(version, f"state file {path}", "pass --state")


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


def _corrupt(path: Path, detail: str) -> StateError:
    """The error for a damaged file, saying what to do about it."""
    return StateError(
        f"state file {path} is corrupt ({detail}); it was left untouched. Restore it from a "
        "backup, or move it aside and run again (a committed manifest restores finished jobs)."
    )


def read_version(db: sqlite3.Connection, path: Path) -> int:
    """Return the file's schema version: 0 for an empty database, StateError for a foreign one."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = schema.stored_version(db, tables, released={})
    if version is None:
        raise StateError(
            f"{path} is an SQLite database but not an mjv state file; it was left untouched. "
            "Pass --state to use another file."
        )
    return version


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring an older file up to the schema version in one transaction (re-read inside it)."""
    if read_version(db, path) >= schema.SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated the file while this one waited for the lock.
        schema.upgrade(db, read_version(db, path), f"state file {path}", "pass --state")
        db.execute("COMMIT")
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
