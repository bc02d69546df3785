"""The qc table on both stores: a check per file, replaced by a later check, per campaign."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import BACKENDS, Opener, fresh_location, opener

from orchestrator.state import QcRecord, Store, open_store


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


def test_a_state_file_from_before_the_checks_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_store(path, "demo").close()
    with sqlite3.connect(path) as db:  # a state that never held a check has no such table
        db.execute("DROP TABLE IF EXISTS qc")
    with open_store(path, "demo") as store:
        assert store.qc_results() == {}
        store.record_qc(QcRecord("k", 0, "d" * 64, True, "{}"))
        assert list(store.qc_results()) == [("k", 0)]
