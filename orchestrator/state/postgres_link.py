"""The state on a PostgreSQL schema: connecting, migrating, NOTIFY wake-ups, and its Link.

The only module that imports psycopg (lazily: only PostgreSQL users need it installed).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ConfigError, StateError
from orchestrator.state import schema
from orchestrator.state.dialect import POSTGRES, Row
from orchestrator.state.location import PostgresUrl, password_of
from orchestrator.state.wakeups import ring, ring_all

if TYPE_CHECKING:
    import psycopg

INSTALL_HINT = "install the PostgreSQL driver with: pip install 'mjv[postgres]'"
CHANNEL = "mjv_state"  # one NOTIFY channel; the payload says which schema and what was freed


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


class PostgresLink:
    """One autocommit connection to the state's schema, shared safely across threads."""

    dialect = POSTGRES
    path = None  # no file: a database server

    def __init__(self, db: psycopg.Connection[Any], url: PostgresUrl) -> None:
        self._db = db
        self._lock = threading.RLock()
        self.url = url
        self.shown = f"state {url.shown}"
        self.topic = f"postgres:{url.conninfo}#{url.schema}"
        self._depth = 0
        self._listener: _Listener | None = None
        # Not ``_lock``, which a transaction holds over its round trips: a waiter starting to
        # listen (in the event loop's thread) must never wait for the connection.
        self._listener_lock = threading.Lock()

    def transaction(self) -> AbstractContextManager[None]:
        """One transaction (an inner one joins the outer) in pipeline mode, with BEGIN and
        COMMIT sent as plain statements: BEGIN goes with the first read, COMMIT with the writes
        after the last one, so a lifecycle write costs one round trip per read plus one.
        (psycopg's own ``transaction()`` syncs after BEGIN and again before COMMIT.)"""
        return self._pipelined("BEGIN")

    @contextmanager
    def _pipelined(self, begin: str) -> Iterator[None]:
        """``begin`` ... COMMIT in pipeline mode; inside one already, the outer one."""
        with self._lock, translated(self.url):
            if self._depth:
                yield
                return
            self._depth += 1
            try:
                with self._db.pipeline():
                    self._db.execute(begin)
                    yield
                    self._db.execute("COMMIT")
            finally:
                self._depth -= 1
                self._end_failed()

    def _end_failed(self) -> None:
        """Roll back a transaction left open by an error (the pipeline is closed by now)."""
        status = driver().pq.TransactionStatus
        if self._db.pgconn.transaction_status in (status.INTRANS, status.INERROR):
            self._db.execute("ROLLBACK")  # (a lost connection has none to roll back)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; outside a transaction it commits at once (autocommit).

        Inside one (pipeline mode), only statements that return rows may come here.
        """
        with self._lock, translated(self.url):
            cursor = self._db.execute(POSTGRES.prepare(sql), _plain(args))
            if self._depth:
                return cursor.fetchall()
            return cursor.fetchall() if cursor.description is not None else []

    def write(self, sql: str, args: Sequence[Any] = ()) -> None:
        """Run one statement whose result is not read (queued inside a transaction)."""
        with self._lock, translated(self.url):
            self._db.execute(POSTGRES.prepare(sql), _plain(args))

    def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows``."""
        with self._lock, translated(self.url), self._db.cursor() as cursor:
            cursor.executemany(POSTGRES.prepare(sql), [_plain(row) for row in rows])

    def read_all(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Send every query, then read each one's rows: one round trip in a pipeline (outside
        a transaction, in a read-only one of their own that reads one snapshot)."""
        with self._pipelined("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"):
            cursors = [self._db.execute(POSTGRES.prepare(q), _plain(a)) for q, a in queries]
            return [cursor.fetchall() for cursor in cursors]

    def check(self) -> None:
        """A database cannot vanish like a file: nothing to check (a lost server errors)."""

    def notify(self, channel: str) -> None:
        """NOTIFY every listening runner (delivered when the transaction commits)."""
        self.write("SELECT pg_notify(?, ?)", (CHANNEL, f"{self.url.schema}:{channel}"))

    def reopen(self) -> PostgresLink:
        """Another connection to the state's schema (migrated already, by this one)."""
        return connect(self.url, migrate=False)

    def listen(self) -> None:
        """Start hearing other runners' releases (a second connection, in a thread)."""
        with self._listener_lock:
            if self._listener is None:
                self._listener = _Listener(self.url, self.topic)

    def close(self) -> None:
        """Close the connection (and the listener's)."""
        with self._listener_lock:
            if self._listener is not None:
                self._listener.stop()
        with self._lock:
            self._db.close()


class _Listener:
    """LISTENs on its own connection and rings this process's bells for its schema."""

    def __init__(self, url: PostgresUrl, topic: str) -> None:
        self._url = url
        self._prefix = f"{url.schema}:"
        self._topic = topic
        self._stopped = threading.Event()
        self.ready = threading.Event()  # LISTEN is in place
        threading.Thread(target=self._run, name="mjv-listen", daemon=True).start()

    def _run(self) -> None:
        pg = driver()
        try:
            with pg.connect(self._url.conninfo, autocommit=True) as db:
                db.execute(f"LISTEN {CHANNEL}")
                self.ready.set()
                ring_all(self._topic)  # a release before LISTEN was not heard: look again
                while not self._stopped.is_set():
                    for note in db.notifies(timeout=POSTGRES.wake_poll):
                        if note.payload.startswith(self._prefix):
                            ring(self._topic, note.payload[len(self._prefix) :])
        except pg.Error:
            return  # the waiters' safety poll still runs

    def stop(self) -> None:
        self._stopped.set()


def _plain(args: Sequence[Any]) -> tuple[Any, ...]:
    """StrEnum members as plain strings (psycopg adapts by exact type)."""
    return tuple(str(a) if isinstance(a, StrEnum) else a for a in args)


def connect(url: PostgresUrl, *, migrate: bool = True) -> PostgresLink:
    """Connect (autocommit, search_path = the state's schema) and migrate; StateError if not."""
    pg = driver()
    with translated(url):
        db: psycopg.Connection[Any] = pg.connect(url.conninfo, autocommit=True)
    try:
        with translated(url):
            if migrate:
                _migrate(db, url)
            db.execute(pg.sql.SQL("SET search_path TO {}").format(_schema(url)))
    except BaseException:
        db.close()
        raise
    return PostgresLink(db, url)


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
        schema.upgrade(db, read_version(db, url), f"state {url.shown}", "use another schema")


def read_version(db: psycopg.Connection[Any], url: PostgresUrl) -> int:
    """The schema's version: 0 when it has no table, StateError when it holds foreign tables."""
    tables = {
        row[0]
        for row in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (url.schema,),
        )
    }
    version = schema.stored_version(db, tables, released=schema.POSTGRES_RELEASED)
    if version is None:
        raise StateError(
            f"schema {url.schema} of {url.shown} holds tables that are not an mjv state; it was "
            "left untouched. Choose another schema with ?schema=NAME."
        )
    return version
