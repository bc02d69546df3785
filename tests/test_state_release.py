"""States written by the release before the single SQL store open, migrate in place, and work.

tests/data/release_state/ holds an SQLite file (schema version 2, slot and hold tables made
on open) and a PostgreSQL dump (its own version 1) written by that release's code with
make.py: every kind of row, in two campaigns.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

from orchestrator.state import SCHEMA_VERSION, FileRecord, FileVersion, Store, open_postgres
from orchestrator.state.opening import open_store

DATA = Path(__file__).parent / "data" / "release_state"
OWNER = "elsewhere:1:feed"  # a live holder on another host: only expiry frees its leases


def check_demo(store: Store) -> None:
    """Everything make.py wrote for the demo campaign reads back the same."""
    subs = {sub.key: sub for sub in store.submissions()}
    assert {key: sub.status for key, sub in subs.items()} == {
        "k-done": "downloaded",
        "k-ext": "pending",
        "k-doubt": "submitting",
        "k-failed": "failed",
        "k-pending": "pending",
        "k-upload": "succeeded",
    }
    assert subs["k-done"].clip_urls == ("https://cdn/a0.mp4", "https://cdn/a1.mp4")
    assert subs["k-ext"].parent == "k-done" and subs["k-done"].request == '{"prompt": "a"}'
    assert store.files("k-done") == [
        FileRecord("k-done", 0, "clip-0.mp4", "https://cdn/a0.mp4", "ab" * 32, 123)
    ]
    old = FileRecord("k-done", 0, "clip-0.mp4", "https://cdn/old.mp4", "00" * 32, 10)
    assert store.file_versions() == [FileVersion(1, old)]
    (doubt,) = store.attempts("k-doubt")
    assert (doubt.reserved, doubt.sent_key) == (0.25, "k-doubt-a1")
    money = store.money()
    assert (money["k-failed"].charged, money["k-failed"].refunded) == (0.5, 0.5)
    totals = store.totals()
    assert (totals.spent, totals.reserved, totals.refunded) == (0.31, 0.25, 0.5)
    upload = store.upload("cd" * 32)
    assert upload is not None and upload.url == "https://img/cat.png"


def check_leases(store: Store) -> None:
    """The release's slot and hold still count, and leases are still fenced."""
    assert store.slot_holders("account-1") == 1
    assert not store.claim("k-done", "here:1:new", 60)  # still the other runner's
    assert store.claim("k-ext", "here:1:new", 60)  # released by that runner
    assert not store.reserve("here:1:new", 9.1, 10.0, 60)  # 0.31 + 0.25 + 0.4 held + 9.1
    assert store.reserve("here:1:new", 9.0, 10.0, 60)
    assert sum(store.acquire_slot("account-1", "here:1:new", 4, 60) for _ in range(4)) == 3


def test_a_release_state_file_migrates_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    shutil.copy(DATA / "state.db", path)
    with open_store(path, "demo") as store:
        check_demo(store)
        check_leases(store)
    with open_store(path, "other") as store:
        assert [sub.key for sub in store.submissions()] == ["k-other"]
    db = sqlite3.connect(path)
    version = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    db.close()
    assert version == (str(SCHEMA_VERSION),)


def _load_dump(postgres_url: str, schema: str) -> None:
    """Restore the release's dump into ``schema`` (psql's meta-commands left out)."""
    import psycopg

    text = (DATA / "postgres.sql").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("\\")]
    script = re.sub(r"\bmjv\b", schema, "\n".join(lines))
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(script.encode())


def test_a_release_postgres_schema_is_used_in_place(postgres_url: str) -> None:
    _load_dump(postgres_url, "release_pg")
    with open_postgres(f"{postgres_url}&schema=release_pg", "demo") as store:
        check_demo(store)
        check_leases(store)
    with open_postgres(f"{postgres_url}&schema=release_pg", "other") as store:
        assert [sub.key for sub in store.submissions()] == ["k-other"]
