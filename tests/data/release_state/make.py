"""Writes the states of the release before the single SQL store (kept: tests migrate them).

Run once with that release's code (commit b067ac9):

    python tests/data/release_state/make.py sqlite tests/data/release_state/state.db
    python tests/data/release_state/make.py postgres 'postgresql:///db?host=...&schema=mjv'
    pg_dump --no-owner --no-privileges --inserts --schema=mjv DB \
        > tests/data/release_state/postgres.sql

Every kind of row is there: submissions in several statuses, attempts with money (charged,
refunded, an in-doubt reservation), files, a replaced file version, an upload, a job slot and
a budget hold (leased for 30 years, so that they are still live when the tests read them).
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator.state import FileRecord, SubmissionSpec
from orchestrator.state.opening import open_state

SPECS = [
    SubmissionSpec("k-done", "done-job", "video", 0, None, '{"prompt": "a"}'),
    SubmissionSpec("k-ext", "done-job", "extend", 1, "k-done", '{"prompt": "a", "step": 1}'),
    SubmissionSpec("k-doubt", "doubt-job", "video", 0, None, '{"prompt": "b"}'),
    SubmissionSpec("k-failed", "failed-job", "video", 0, None, None),
    SubmissionSpec("k-pending", "pending-job", "imagine", 0, None, None),
    SubmissionSpec("k-upload", "cat.png", "upload", 0, None, None),
]


def fill(location: str) -> None:
    """Write the demo campaign (and a second one, so campaigns stay apart)."""
    with open_state(location, "demo", default_path=Path(location)) as store:
        store.declare(SPECS)
        owner = "elsewhere:1:feed"
        for key in ("k-done", "k-doubt", "k-failed", "k-upload", "k-ext"):
            assert store.claim(key, owner, 1e9)
        store.record_intent("k-done", owner, 0.3)
        store.record_task("k-done", "task-1", 0.3, owner=owner)
        store.record_success("k-done", ["https://cdn/a0.mp4", "https://cdn/a1.mp4"], None)
        old = FileRecord("k-done", 0, "clip-0.mp4", "https://cdn/old.mp4", "00" * 32, 10)
        store.record_files("k-done", [old])
        store.record_files(
            "k-done", [FileRecord("k-done", 0, "clip-0.mp4", "https://cdn/a0.mp4", "ab" * 32, 123)]
        )
        store.record_intent("k-doubt", owner, 0.25)
        store.record_intent("k-failed", owner, 0.5)
        store.record_task("k-failed", "task-3", 0.5, owner=owner)
        store.record_failure("k-failed", final=False, reason="FAILURE: boom", refund=True)
        store.record_intent("k-upload", owner, 0.01)
        store.record_task("k-upload", "https://img/cat.png", 0.01, owner=owner)
        store.record_success("k-upload", (), "https://img/cat.png")
        store.record_upload("cd" * 32, "https://img/cat.png")
        assert store.acquire_slot("account-1", owner, 4, 1e9)
        assert store.reserve(owner, 0.4, 10.0, 1e9)
        store.release("k-ext", owner)
    with open_state(location, "other", default_path=Path(location)) as store:
        store.declare([SubmissionSpec("k-other", "other-job", "video", 0, None, None)])


if __name__ == "__main__":
    fill(sys.argv[2])
