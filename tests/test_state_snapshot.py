"""A snapshot of the state answers every read exactly as the store does, on both databases."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from store_support import BACKENDS, fresh_location, opener
from test_state_helpers import clip, spec

from orchestrator.state import QcRecord, Store

ME = "host:1:me"


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_location(request, tmp_path)


def _history(store: Store) -> None:
    """k1 downloaded twice (its first files kept as versions), k2 charged then refunded,
    k3 only declared, a clip check of k1."""
    store.declare([spec("k1"), spec("k2"), spec("k3", kind="extend", step=1)])
    for key in ("k1", "k2"):
        store.claim(key, ME, 60)
        store.record_intent(key, ME, 0.6)
        store.record_task(key, f"task-{key}", 0.6, owner=ME)
    store.record_success("k1", ["https://cdn/a"], None, owner=ME)
    store.record_files("k1", [clip("k1"), clip("k1", 1)], owner=ME)
    store.reset("k1", "again")
    store.record_intent("k1", ME, 0.6)
    store.record_task("k1", "task-k1b", 0.6, owner=ME)
    store.record_success("k1", ["https://cdn/b"], "https://cdn/still", owner=ME)
    store.record_files("k1", [replace(clip("k1"), sha256="cd" * 32, size=12)], owner=ME)
    store.record_failure("k2", final=True, reason="moderated", refund=True, owner=ME)
    store.record_qc(QcRecord("k1", 0, "cd" * 32, True, '{"passed": true}'))


def test_a_snapshot_reads_what_the_store_reads(location: str, tmp_path: Path) -> None:
    with opener(location, tmp_path)() as store:
        _history(store)
        snap = store.snapshot()
        assert snap.submissions() == store.submissions()
        assert [snap.get(k) for k in ("k1", "k2", "k3", "nope")] == [
            store.get(k) for k in ("k1", "k2", "k3", "nope")
        ]
        assert snap.all_files() == store.all_files() and len(snap.files("k1")) == 1
        assert [snap.files(k) for k in ("k1", "k3")] == [store.files(k) for k in ("k1", "k3")]
        assert [snap.attempts(k) for k in ("k1", "k2", "k3")] == [
            store.attempts(k) for k in ("k1", "k2", "k3")
        ]
        assert len(snap.attempts("k1")) == 2
        assert snap.file_versions() == store.file_versions() and len(snap.file_versions()) == 2
        assert snap.money() == store.money() and snap.totals() == store.totals()
        assert snap.totals().refunded == pytest.approx(0.6)
        assert snap.qc_results() == store.qc_results() and len(snap.qc_results()) == 1
