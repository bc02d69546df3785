"""Choosing the state location, PostgreSQL URLs without passwords, and PG-only behaviour."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from test_state_helpers import spec

from orchestrator.errors import ConfigError, StateError
from orchestrator.state import open_postgres, open_state, redact, state_found
from orchestrator.state.location import PostgresUrl, locate_state, parse_postgres_url

SECRET = "s3cr3t-pw"


def test_the_schema_comes_from_the_url_or_defaults_to_mjv() -> None:
    assert parse_postgres_url("postgresql://db/mjv").schema == "mjv"
    found = parse_postgres_url("postgres://db/mjv?schema=team_a&sslmode=require")
    assert (found.schema, found.conninfo) == ("team_a", "postgres://db/mjv?sslmode=require")
    assert parse_postgres_url("postgresql:///x?options=-csearch_path%3Dteam_b").schema == "team_b"


def test_a_schema_that_is_not_a_plain_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="schema 'a;drop' is not a plain SQL name"):
        parse_postgres_url("postgresql://db/mjv?schema=a;drop")


def test_passwords_are_removed_from_shown_urls() -> None:
    url = f"postgresql://bob:{SECRET}@db.example:5432/mjv?password={SECRET}&sslmode=require"
    shown = redact(url)
    assert SECRET not in shown
    assert shown == "postgresql://bob@db.example:5432/mjv?sslmode=require"
    assert parse_postgres_url(url).shown == shown


def test_state_comes_from_the_flag_then_mjv_state_then_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = tmp_path / "default.db"
    assert locate_state(None, default_path=default) == default
    monkeypatch.setenv("MJV_STATE", "postgresql://db/mjv?schema=shared")
    found = locate_state(None, default_path=default)
    assert isinstance(found, PostgresUrl) and found.schema == "shared"
    assert locate_state(str(tmp_path / "x.db"), default_path=default) == tmp_path / "x.db"


def test_looking_for_a_missing_state_file_does_not_create_it(tmp_path: Path) -> None:
    assert not state_found(None, default_path=tmp_path / "s.db")
    assert state_found("postgresql://db/mjv", default_path=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()


def test_a_connection_error_never_shows_the_password(tmp_path: Path) -> None:
    url = f"postgresql://bob:{SECRET}@/mjv?host={tmp_path}/no-server&connect_timeout=2"
    with pytest.raises(StateError) as caught:
        open_state(url, "demo", default_path=tmp_path / "unused.db")
    message = str(caught.value)
    assert SECRET not in message
    assert message.startswith(f"state postgresql://bob@/mjv?host={tmp_path}/no-server")


def test_without_psycopg_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigError, match=r"pip install 'mjv\[postgres\]'"):
        open_state("postgresql:///mjv", "demo", default_path=tmp_path / "unused.db")


# --- against the session's server ---------------------------------------------------------------


def test_a_schema_holding_foreign_tables_is_left_alone(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE SCHEMA foreign_app")
        db.execute("CREATE TABLE foreign_app.users (id int)")
    with pytest.raises(StateError, match="not an mjv state; it was left untouched"):
        open_postgres(f"{postgres_url}&schema=foreign_app", "demo")


def test_a_schema_from_a_newer_mjv_is_left_alone(postgres_url: str) -> None:
    url = f"{postgres_url}&schema=from_future"
    open_postgres(url, "demo").close()
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("UPDATE from_future.meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(StateError, match="schema version 99, newer than this mjv"):
        open_postgres(url, "demo")


def test_runners_opening_a_new_schema_together_migrate_it_once(postgres_url: str) -> None:
    url = f"{postgres_url}&schema=together"
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_one() -> None:
        barrier.wait()
        try:
            open_postgres(url, "demo").close()
        except BaseException as exc:  # collected: a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_leases_follow_the_database_clock_not_the_runner(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_now = time.time()
    monkeypatch.setattr(time, "time", lambda: real_now + 1_000_000)  # a runner far ahead
    with open_postgres(f"{postgres_url}&schema=clock", "demo") as store:
        store.declare([spec("k1")])
        assert store.claim("k1", "host-a:1:a", 60)
        assert not store.claim("k1", "host-b:1:b", 60)  # not expired by the runner's clock
        found = store.get("k1")
    assert found is not None and found.lease_until is not None
    assert found.lease_until == pytest.approx(real_now + 60, abs=10)


_RENAME = "UPDATE submissions SET job = 'renamed' WHERE campaign = 'c' AND key = 'k'"


def test_a_failed_pipelined_transaction_changes_nothing_and_the_connection_goes_on(
    postgres_url: str,
) -> None:
    # BEGIN and COMMIT travel inside the pipeline: whatever fails, the rename is rolled back.
    with open_postgres(f"{postgres_url}&schema=pipelined", "c") as store:
        store.declare([spec("k")])
        link = store.link
        with pytest.raises(StateError, match="division by zero"), link.transaction():
            link.write(_RENAME)
            link.execute("SELECT 1 / 0")  # fails where it is read
        with pytest.raises(StateError, match="null value"), link.transaction():
            link.write(_RENAME)
            link.write("INSERT INTO submissions (campaign) VALUES (NULL)")  # fails at COMMIT
        with pytest.raises(RuntimeError), link.transaction():
            link.write(_RENAME)
            raise RuntimeError("the caller's own failure")
        found = store.get("k")
        assert found is not None and found.job == "job-k"
        assert store.claim("k", "here:1:me", 60)  # the connection goes on, out of any transaction
        assert store.record_intent("k", "here:1:me", 1.0) == 1
        found = store.get("k")
        assert found is not None and (found.job, found.status) == ("job-k", "submitting")
        assert store.totals().reserved == 1.0
