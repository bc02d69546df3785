"""The qc table on both stores: a check per file, replaced by a later check, per campaign."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import BACKENDS, Opener, fresh_location, opener

from orchestrator.errors import StateError
from orchestrator.state import SCHEMA_VERSION, QcRecord, Store, open_store, schema


@pytest.fixture(params=BACKENDS)
def open_(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    return opener(fresh_location(request, tmp_path), tmp_path)


@pytest.fixture
def store(open_: Opener) -> Iterator[Store]:
    with open_() as opened:
        yield opened


def test_a_check_is_kept_per_file_and_replaced_by_a_later_one(open_: Opener, store: Store) -> None:
    store.record_qc(QcRecord("k1", 0, "a" * 64, False, '{"passed": false}'))
    store.record_qc(QcRecord("k1", 1, "b" * 64, True, '{"passed": true}'))
    store.record_qc(QcRecord("k1", 0, "c" * 64, True, '{"passed": true, "again": 1}'))
    found = store.qc_results()
    assert found == {
        ("k1", 0): QcRecord("k1", 0, "c" * 64, True, '{"passed": true, "again": 1}'),
        ("k1", 1): QcRecord("k1", 1, "b" * 64, True, '{"passed": true}'),
    }
    with open_("other") as other:  # another campaign in the same state sees none of them
        assert other.qc_results() == {}


def stored_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    return int(row[0])


def _version_4_state(path: Path, with_qc_table: bool) -> None:
    """A state as mjv wrote it at version 4 (the qc table made on first use, or not yet)."""
    db = sqlite3.connect(path, isolation_level=None)
    for migration in schema.MIGRATIONS[:4]:
        migration(db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '4')")
    if with_qc_table:
        schema.MIGRATIONS[4](db)
        db.execute("INSERT INTO qc VALUES ('demo', 'k', 0, 'e', 1, '{}')")
    db.close()


def test_a_version_4_state_without_checks_migrates_to_the_qc_table(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _version_4_state(path, with_qc_table=False)
    with open_store(path, "demo") as store:
        assert store.qc_results() == {}
        store.record_qc(QcRecord("k", 0, "d" * 64, True, "{}"))
        assert list(store.qc_results()) == [("k", 0)]
    assert stored_version(path) == SCHEMA_VERSION == 5


def test_a_version_4_state_whose_table_was_made_on_use_keeps_its_checks(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _version_4_state(path, with_qc_table=True)
    with open_store(path, "demo") as store:
        assert store.qc_results() == {("k", 0): QcRecord("k", 0, "e", True, "{}")}
    assert stored_version(path) == 5


def test_the_table_comes_from_the_migration_not_from_first_use(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_store(path, "demo").close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE qc")  # a state at version 5 without it is damaged, not young
    with open_store(path, "demo") as store, pytest.raises(StateError):
        store.record_qc(QcRecord("k", 0, "d" * 64, True, "{}"))
