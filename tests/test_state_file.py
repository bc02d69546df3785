"""The state file itself: WAL, crash safety, corrupt/foreign/newer files, migrations."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_state_helpers import spec, store_at

from orchestrator.errors import StateError
from orchestrator.state import SCHEMA_VERSION, schema


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".mjv" / "state.db"


@pytest.fixture
def filled(path: Path) -> Iterator[Path]:
    """A state file with one submitted job, closed cleanly."""
    with store_at(path) as store:
        store.declare([spec("k1"), spec("k2")])
        assert store.claim("k1", "host:1:x", 60)
        store.record_intent("k1", "host:1:x", 1.0)
        store.record_task("k1", "t1", 1.0)
    yield path


def set_version(path: Path, version: int) -> None:
    """Rewrite the file's schema_version the way another mjv release would."""
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(version),))
    db.close()


def stored_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0])
    finally:
        db.close()


def test_the_file_is_in_wal_mode(filled: Path) -> None:
    db = sqlite3.connect(filled)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert stored_version(filled) == SCHEMA_VERSION


def test_garbage_is_refused_and_left_untouched(path: Path) -> None:
    path.parent.mkdir()
    garbage = bytes(range(256)) * 40
    path.write_bytes(garbage)
    with pytest.raises(StateError, match=r"not an SQLite database.*left untouched") as caught:
        store_at(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.db"]


def test_a_damaged_database_is_refused_and_left_untouched(filled: Path) -> None:
    data = bytearray(filled.read_bytes())
    page = 4096
    assert len(data) >= 3 * page
    data[page : 3 * page] = b"\xa5" * (2 * page)
    filled.write_bytes(bytes(data))
    with pytest.raises(StateError, match=r"corrupt|not an mjv state file"):
        store_at(filled)
    assert filled.read_bytes() == bytes(data)


def test_a_foreign_sqlite_database_is_refused(path: Path) -> None:
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE photos (id INTEGER)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StateError, match="not an mjv state file"):
        store_at(path)
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused_and_left_untouched(filled: Path) -> None:
    set_version(filled, SCHEMA_VERSION + 1)
    before = filled.read_bytes()
    with pytest.raises(StateError, match=r"newer than this mjv supports.*Upgrade mjv"):
        store_at(filled)
    assert filled.read_bytes() == before
    assert stored_version(filled) == SCHEMA_VERSION + 1


def test_an_empty_file_becomes_a_state_file(path: Path) -> None:
    path.parent.mkdir()
    path.touch()
    with store_at(path) as store:
        store.declare([spec("k1")])
    assert stored_version(path) == SCHEMA_VERSION


def _add_notes(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE submissions ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated'")


def _broken(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE submissions ADD COLUMN half TEXT")
    db.execute("THIS IS NOT SQL")


def test_an_older_file_is_migrated_forward_keeping_its_data(
    filled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, _add_notes))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with store_at(filled) as store:
        found = store.get("k1")
        assert found is not None
        assert (found.status, found.task_id) == ("submitted", "t1")
        assert store.totals().spent == 1.0
    assert stored_version(filled) == SCHEMA_VERSION + 1
    db = sqlite3.connect(filled)
    assert {row[0] for row in db.execute("SELECT note FROM submissions")} == {"migrated"}
    db.close()


def test_a_failing_migration_leaves_the_older_file_as_it_was(
    filled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, _broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StateError, match="cannot be used"):
        store_at(filled)
    monkeypatch.undo()
    assert stored_version(filled) == SCHEMA_VERSION
    with store_at(filled) as store:
        assert [s.key for s in store.submissions()] == ["k1", "k2"]


def test_an_unwritable_folder_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StateError, match=r"(cannot open|cannot read) state file"):
        store_at(blocker / "state.db")


def test_a_folder_in_place_of_the_file_is_a_state_error(path: Path) -> None:
    path.mkdir(parents=True)
    with pytest.raises(StateError, match="is a folder"):
        store_at(path)


CRASHER = """
import os, sys
from pathlib import Path
from orchestrator.state import SubmissionSpec, open_store
store = open_store(Path(sys.argv[1]), "demo")
store.declare([SubmissionSpec("k1", "job", "video", 0, None)])
owner = "host:1:crash"
assert store.claim("k1", owner, 60)
store.record_intent("k1", owner, 1.0)
os._exit(9)  # no close, no checkpoint: as abrupt as a kill -9 after the commit
"""


def test_a_committed_intent_survives_a_crashed_process(path: Path) -> None:
    crashed = subprocess.run([sys.executable, "-c", CRASHER, str(path)], check=False)
    assert crashed.returncode == 9
    with store_at(path) as store:
        found = store.get("k1")
        assert found is not None
        assert found.in_doubt
        assert store.totals().reserved == 1.0


OPENER = """
import sys
from pathlib import Path
from orchestrator.state import SubmissionSpec, open_store
sys.stdin.readline()
with open_store(Path(sys.argv[1]), sys.argv[2]) as store:
    store.declare([SubmissionSpec(f"k{i}", "job", "video", 0, None) for i in range(50)])
    print(len(store.submissions()))
"""


def test_processes_creating_the_file_at_once_all_succeed(path: Path) -> None:
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(path), f"campaign-{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [opener.communicate("go\n")[0].strip() for opener in openers]
    assert outputs == ["50"] * 4
    assert stored_version(path) == SCHEMA_VERSION


def test_a_version_1_file_migrates_to_2_keeping_every_row(tmp_path: Path) -> None:
    """v2 lets uploads be charged submissions and keeps each attempt's idempotency key."""
    import sqlite3

    from orchestrator.state import SubmissionSpec, open_store

    path = tmp_path / "v1.db"
    db = sqlite3.connect(path, isolation_level=None)
    schema.MIGRATIONS[0](db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute(
        "INSERT INTO submissions (campaign, key, job, kind, step, status, attempt, updated_at)"
        " VALUES ('c', 'k1', 'a', 'video', 0, 'submitting', 1, 0)"
    )
    db.execute(
        "INSERT INTO attempts (campaign, key, attempt, reserved, started_at)"
        " VALUES ('c', 'k1', 1, 600000, 0)"
    )
    db.execute("INSERT INTO campaigns VALUES ('c', 600000, 0, 0)")
    db.close()
    with open_store(path, "c") as store:
        sub = store.get("k1")
        assert sub is not None and (sub.status, sub.attempt) == ("submitting", 1)
        (attempt,) = store.attempts("k1")
        assert (attempt.reserved, attempt.sent_key) == (0.6, None)
        assert store.totals().reserved == 0.6
        store.declare([SubmissionSpec("u1", "img", "upload", 0, None)])
        assert store.get("u1") is not None
    # and on: 3 slot and hold tables (issue 18), 4 modal answers (issue 17), 5 qc (issue 20)
    assert stored_version(path) == SCHEMA_VERSION == 5


def test_a_version_3_file_migrates_to_4_keeping_every_row(tmp_path: Path) -> None:
    """v4 lets a modal answer be a paid submission of its own (issue 17)."""
    import sqlite3

    from orchestrator.state import SubmissionSpec, open_store

    path = tmp_path / "v3.db"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in schema.MIGRATIONS[:3]:
        migration(db)
    db.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    db.execute(
        "INSERT INTO submissions (campaign, key, job, kind, step, status, attempt, updated_at,"
        " request) VALUES ('c', 'k1', 'a', 'upload', 0, 'submitting', 1, 0, '{}')"
    )
    db.close()
    with open_store(path, "c") as store:
        sub = store.get("k1")
        assert sub is not None and (sub.kind, sub.status, sub.request) == (
            "upload",
            "submitting",
            "{}",
        )
        store.declare([SubmissionSpec("m1", "a", "modal", 0, "k1")])
        modal = store.get("m1")
        assert modal is not None and (modal.kind, modal.parent) == ("modal", "k1")
    assert stored_version(path) == SCHEMA_VERSION == 5
