"""`mjv state copy`: SQLite -> PostgreSQL -> SQLite without losing an attempt, file or cent."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from runsupport import mjv, run_spec, simulator, write
from test_state_helpers import clip, spec

from orchestrator.simulator import Simulator
from orchestrator.state import SqliteStore, open_state, open_store

__all__ = ["simulator"]

SECRET = "pw-not-to-show"
_SCHEMAS = itertools.count()


@pytest.fixture
def pg(postgres_url: str) -> str:
    """A fresh schema on the session's server, with a password that must never be shown."""
    return f"{postgres_url}&password={SECRET}&schema=copy{next(_SCHEMAS)}"


def fill(store: SqliteStore) -> None:
    """A campaign with every kind of history: charged, refunded, in doubt, files, uploads."""
    store.declare([spec("a"), spec("b"), spec("c"), spec("d", kind="extend", step=1)])
    for key in "abc":
        store.claim(key, "me", 60)
        store.record_intent(key, "me", 0.35)
    store.record_task("a", "task-a", 0.3)
    store.record_success("a", ["https://cdn/a0.mp4", "https://cdn/a1.mp4"], "https://cdn/g.png")
    store.record_files("a", [clip("a", 0), clip("a", 1)])
    store.record_task("b", "task-b", 0.3)
    store.record_failure("b", final=False, reason="moderated", refund=True)
    store.reset("b", "retry")
    store.record_intent("b", "me", 0.35)
    store.record_upload("f" * 64, "https://cdn/upload.png")
    store.release_all("me")


def snapshot(location: str, campaign: str) -> dict[str, object]:
    """Everything a store says about ``campaign``, raw rows included."""
    with open_state(location, campaign, default_path=Path(location)) as store:
        keys = [sub.key for sub in store.submissions()]
        return {
            "submissions": store.submissions(),
            "attempts": {key: store.attempts(key) for key in keys},
            "files": store.all_files(),
            "totals": store.totals(),
            "upload": store.upload_url("f" * 64),
            "raw": store.export_campaign(campaign),  # type: ignore[attr-defined]
        }


def test_a_round_trip_through_postgres_loses_nothing(tmp_path: Path, pg: str) -> None:
    first, last = tmp_path / "first.db", tmp_path / "last.db"
    for campaign in ("demo", "other"):
        with open_store(first, campaign) as store:
            fill(store)
    there = mjv("state", "copy", str(first), pg)
    back = mjv("state", "copy", pg, str(last))
    assert (there.code, back.code) == (0, 0), there.err + back.err
    assert "copied campaign demo to" in there.out
    assert "4 submissions, 4 attempts, 2 files" in there.out
    for campaign in ("demo", "other"):
        original = snapshot(str(first), campaign)
        assert snapshot(pg, campaign) == original
        assert snapshot(str(last), campaign) == original
    assert SECRET not in there.out + there.err + back.out + back.err


def test_a_destination_that_has_the_campaign_is_refused(tmp_path: Path, pg: str) -> None:
    source = tmp_path / "s.db"
    with open_store(source, "demo") as store:
        fill(store)
    assert mjv("state", "copy", str(source), pg).code == 0
    before = snapshot(pg, "demo")
    again = mjv("state", "copy", str(source), pg)
    assert again.code == 1
    assert "already has campaign demo; refusing to overwrite it" in again.err
    assert SECRET not in again.err
    assert snapshot(pg, "demo") == before


def test_one_campaign_can_be_chosen(tmp_path: Path) -> None:
    source, target = tmp_path / "s.db", tmp_path / "t.db"
    for campaign in ("demo", "other"):
        with open_store(source, campaign) as store:
            fill(store)
    done = mjv("state", "copy", str(source), str(target), "--campaign", "other")
    assert done.code == 0, done.err
    with open_store(target, "x") as store:
        assert store.campaign_names() == ["other"]
    missing = mjv("state", "copy", str(source), str(target), "--campaign", "nope")
    assert (missing.code, missing.err) == (1, f"mjv: error: {source} has no campaign 'nope'\n")


def test_a_missing_source_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    done = mjv("state", "copy", str(tmp_path / "none.db"), str(tmp_path / "t.db"))
    assert done.code == 1
    assert "no state at" in done.err and "nothing to copy" in done.err
    assert not (tmp_path / "none.db").exists()


SPEC = """\
version: 1
campaign: shared
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
  push: "push in"
jobs:
  - name: "{{ prompt }}"
    images: [a]
    prompts: [orbit, push]
"""


def test_status_and_plan_read_a_copied_state_through_mjv_state(
    simulator: Simulator, tmp_path: Path, pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_path = write(tmp_path / "c.yaml", SPEC)
    assert run_spec(simulator, spec_path).code == 0
    local = mjv("status", str(spec_path), "--format", "json")
    local_file = tmp_path / ".mjv" / "state.db"
    assert mjv("state", "copy", str(local_file), pg).code == 0
    local_file.rename(tmp_path / "moved-away.db")  # only the database can answer now
    monkeypatch.setenv("MJV_STATE", pg)
    shared = mjv("status", str(spec_path), "--format", "json")
    assert json.loads(shared.out) == json.loads(local.out)
    elsewhere = mjv("status", str(spec_path), "--state", "x.db", "--format", "json")
    assert json.loads(shared.out) != json.loads(elsewhere.out)
    planned = mjv("plan", str(spec_path), "--format", "json")
    assert planned.code == 0, planned.err
    assert {job["status"] for job in json.loads(planned.out)["jobs"]} == {"done"}
