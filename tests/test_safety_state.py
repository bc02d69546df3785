"""State damage and loss: clear StateErrors, and a run that stops when its file is gone."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from runsupport import FAST, KEY, mjv, write
from test_state_helpers import clip, spec, store_at

from orchestrator.errors import StateError
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.state import FileRecord, FileVersion, SqliteStore, schema, sqlite_file

RUN = """\
version: 1
campaign: gone
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: "{{ image }}"
    images: [a, b]
    prompts: [orbit]
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".mjv" / "state.db"


def _declared(path: Path) -> Path:
    with store_at(path) as store:
        store.declare([spec("k1")])
    return path


def _sql(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        db.execute(statement)
    db.close()


def test_undecodable_quick_check_output_is_reported_as_corrupt(path: Path) -> None:
    _declared(path)
    # A column whose name is not UTF-8, holding a NULL it forbids: quick_check names it.
    bad = b"CREATE TABLE t(\xffa NOT NULL)".hex()
    _sql(
        path,
        "CREATE TABLE t(a)",
        "INSERT INTO t VALUES (NULL)",
        "PRAGMA writable_schema = ON",
        f"UPDATE sqlite_master SET sql = CAST(x'{bad}' AS TEXT) WHERE name = 't'",
    )
    with pytest.raises(StateError) as caught:
        store_at(path)
    message = str(caught.value)
    assert str(path) in message and "corrupt (NULL value in t." in message
    assert "decode" not in message


def test_clip_urls_that_are_not_json_name_the_file_and_the_job(path: Path) -> None:
    _declared(path)
    _sql(path, "UPDATE submissions SET clip_urls = '[not json'")
    with pytest.raises(StateError) as caught:
        store_at(path)
    assert str(path) in str(caught.value) and "job job-k1 (k1)" in str(caught.value)


def test_clip_urls_damaged_while_open_is_a_state_error_naming_the_job(path: Path) -> None:
    with store_at(path) as store:
        store.declare([spec("k1")])
        _sql(path, "UPDATE submissions SET clip_urls = '{\"a\": 1}'")
        with pytest.raises(StateError, match="job job-k1"):
            store.get("k1")


def test_a_read_only_state_file_is_not_writable_not_corrupt(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _declared(path)
    monkeypatch.setattr(sqlite_file, "writable", lambda p: p != path)
    with pytest.raises(StateError) as caught:
        store_at(path)
    assert "is not writable" in str(caught.value) and "corrupt" not in str(caught.value)


def test_a_read_only_state_folder_is_not_writable_not_corrupt(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _declared(path)
    monkeypatch.setattr(sqlite_file, "writable", lambda p: p != path.parent)
    with pytest.raises(StateError, match=r"not writable \(its folder .* is read-only\)"):
        store_at(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_chmod_read_only_state_folder_is_not_writable(path: Path) -> None:
    _declared(path)
    path.parent.chmod(0o500)
    try:
        with pytest.raises(StateError, match="not writable"):
            store_at(path)
    finally:
        path.parent.chmod(0o700)


def test_check_file_notices_a_removed_or_replaced_state_file(path: Path) -> None:
    with store_at(path) as store:
        store.declare([spec("k1")])
        store.check_file()
        shutil.copy(path, path.with_name("copy.db"))
        os.replace(path.with_name("copy.db"), path)
        with pytest.raises(StateError, match="removed or replaced"):
            store.check_file()
        with pytest.raises(StateError, match="removed or replaced"):
            store.declare([spec("k2")])  # writes are refused too


def test_a_state_file_deleted_mid_run_stops_the_run_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJV_API_KEY", KEY)
    state = tmp_path / ".mjv/state.db"
    spec_path = write(tmp_path / "c.yaml", RUN)
    with Simulator(SimulatorConfig(job_seconds=3.0, slots=4)) as sim:

        def remove_once_submitted() -> None:
            deadline = time.monotonic() + 10
            while sim.submit_requests() < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            state.unlink()

        remover = threading.Thread(target=remove_once_submitted)
        remover.start()
        result = mjv("run", str(spec_path), "--base-url", sim.base_url, *FAST)
        remover.join()
        submitted = sim.submit_requests()
    assert result.code == 1, result.out + result.err
    assert "run stopped: state file" in result.out and "removed or replaced" in result.out
    assert "0/2 jobs done" in result.out
    assert "Traceback" not in result.err
    assert submitted == 2


def _downloaded(store: SqliteStore, key: str, record: FileRecord) -> None:
    owner = "host:1:x"
    assert store.claim(key, owner, 60)
    store.record_intent(key, owner, 1.0)
    store.record_task(key, f"t-{key}", 1.0)
    store.record_success(key, [record.url], None)
    store.record_files(key, [record])


def test_reset_keeps_the_replaced_file_rows_with_their_attempt(path: Path) -> None:
    with store_at(path) as store:
        store.declare([spec("k1")])
        _downloaded(store, "k1", clip("k1"))
        store.record_files("k1", [clip("k1")])  # the same file again: nothing replaced
        assert store.file_versions() == []
        store.reset("k1", "forced with --force")
        assert store.files("k1") == []
        assert store.file_versions() == [FileVersion(1, clip("k1"))]
        _downloaded(store, "k1", replace(clip("k1"), sha256="cd" * 32))
        store.reset("k1", "forced again")
        assert [v.attempt for v in store.file_versions()] == [1, 2]


def test_a_version_1_file_is_migrated_to_keep_file_versions(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    schema.MIGRATIONS[0](db)  # a file written by the first release, rows and all
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute(
        "INSERT INTO submissions (campaign, key, job, kind, step, status, attempt, updated_at)"
        " VALUES ('demo', 'k1', 'job-k1', 'video', 0, 'downloaded', 1, 0)"
    )
    record = clip("k1")
    db.execute(
        "INSERT INTO files VALUES ('demo', 'k1', ?, ?, ?, ?, ?)",
        (record.index, record.name, record.url, record.sha256, record.size),
    )
    db.execute(
        "INSERT INTO attempts (campaign, key, attempt, started_at) VALUES ('demo', 'k1', 1, 0)"
    )
    db.close()
    with store_at(path) as store:
        assert store.files("k1") == [clip("k1")]
        store.reset("k1", "forced")
        assert store.file_versions() == [FileVersion(1, clip("k1"))]
