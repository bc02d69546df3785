"""Lifecycle of one submission in the state store: every transition, attempts and money."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_state_helpers import Clock, clip, spec, store_at

from orchestrator.errors import StateError
from orchestrator.state import SqliteStore, Store, Totals, make_owner

OWNER = make_owner()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SqliteStore]:
    with store_at(tmp_path / ".mjv" / "state.db", clock=clock) as opened:
        opened.declare([spec("k1"), spec("k2")])
        yield opened


def submit(store: Store, key: str = "k1", price: float = 1.0) -> int:
    """Claim ``key`` and commit an intent reserving ``price``."""
    assert store.claim(key, OWNER, 60)
    return store.record_intent(key, OWNER, price)


def status(store: Store, key: str = "k1") -> str:
    found = store.get(key)
    assert found is not None
    return found.status


def test_the_state_file_is_created_beside_the_spec_folder(tmp_path: Path) -> None:
    store_at(tmp_path / ".mjv" / "state.db").close()
    assert (tmp_path / ".mjv" / "state.db").read_bytes().startswith(b"SQLite format 3\x00")


def test_the_sqlite_store_has_every_method_of_the_protocol() -> None:
    wanted = {name for name in vars(Store) if not name.startswith("_") or name == "__enter__"}
    assert "record_intent" in wanted
    missing = {name for name in wanted if not callable(getattr(SqliteStore, name, None))}
    assert missing == set()


def test_declared_submissions_start_pending_with_no_attempt(store: SqliteStore) -> None:
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.attempt, found.task_id, found.clip_urls) == ("pending", 0, None, ())
    assert not found.in_doubt
    assert [s.key for s in store.submissions()] == ["k1", "k2"]


def test_the_happy_path_walks_every_status(store: SqliteStore, clock: Clock) -> None:
    assert submit(store) == 1
    assert status(store) == "submitting"
    store.record_task("k1", "task-1", 1.0)
    assert status(store) == "submitted"
    store.record_running("k1")
    store.record_running("k1")
    assert status(store) == "running"
    clock.now += 5
    store.record_success("k1", ["https://cdn/a.mp4", "https://cdn/b.mp4"], "https://cdn/grid.png")
    done = store.get("k1")
    assert done is not None
    assert done.status == "succeeded"
    assert done.clip_urls == ("https://cdn/a.mp4", "https://cdn/b.mp4")
    assert (done.image_url, done.task_id, done.updated_at) == (
        "https://cdn/grid.png",
        "task-1",
        1005,
    )
    store.record_files("k1", [clip("k1", 0), clip("k1", 1)])
    assert status(store) == "downloaded"
    assert store.files("k1") == [clip("k1", 0), clip("k1", 1)]


def test_intent_is_in_doubt_until_the_task_id_is_recorded(store: SqliteStore) -> None:
    submit(store)
    found = store.get("k1")
    assert found is not None and found.in_doubt


@pytest.mark.parametrize(
    ("action", "setup"),
    [
        ("record_task", 0),
        ("record_running", 0),
        ("record_success", 1),
        ("record_files", 2),
        ("record_rejected", 2),
    ],
)
def test_transitions_out_of_order_are_refused(store: SqliteStore, action: str, setup: int) -> None:
    if setup >= 1:
        submit(store)
    if setup >= 2:
        store.record_task("k1", "t", 1.0)
    calls = {
        "record_task": lambda: store.record_task("k1", "t", 1.0),
        "record_running": lambda: store.record_running("k1"),
        "record_success": lambda: store.record_success("k1", [], None),
        "record_files": lambda: store.record_files("k1", [clip("k1")]),
        "record_rejected": lambda: store.record_rejected("k1", "queue full"),
    }
    with pytest.raises(StateError, match="job-k1"):
        calls[action]()


def test_an_undeclared_key_is_a_state_error(store: SqliteStore) -> None:
    with pytest.raises(StateError, match="never declared"):
        store.record_running("nope")


def test_rejection_returns_to_pending_and_frees_the_reservation(store: SqliteStore) -> None:
    submit(store, price=2.0)
    assert store.totals() == Totals(spent=0, reserved=2.0, refunded=0)
    store.record_rejected("k1", "queue full")
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.reason, found.attempt) == ("pending", "queue full", 1)
    assert store.totals() == Totals(spent=0, reserved=0, refunded=0)
    assert submit(store) == 2
    assert [a.outcome for a in store.attempts("k1")] == ["rejected", None]


def test_the_task_id_turns_the_reservation_into_a_charge(store: SqliteStore) -> None:
    submit(store, price=1.5)
    store.record_task("k1", "t1", 1.25)
    assert store.totals() == Totals(spent=1.25, reserved=0, refunded=0)
    [attempt] = store.attempts("k1")
    assert (attempt.task_id, attempt.reserved, attempt.charged) == ("t1", 0, 1.25)


def test_a_followup_task_id_replaces_the_polled_one_without_a_new_charge(
    store: SqliteStore,
) -> None:
    submit(store, price=1.0)
    store.record_task("k1", "t1", 1.0)
    store.record_running("k1")
    store.record_followup("k1", "t2")
    sub = store.get("k1")
    assert sub is not None and (sub.status, sub.task_id, sub.attempt) == ("submitted", "t2", 1)
    [attempt] = store.attempts("k1")
    assert (attempt.task_id, attempt.charged) == ("t2", 1.0)
    assert store.totals() == Totals(spent=1.0, reserved=0, refunded=0)
    store.record_success("k1", ["u"], None)
    with pytest.raises(StateError, match="follow-up"):
        store.record_followup("k1", "t3")


def test_an_in_doubt_resend_is_its_own_attempt_with_the_first_key(store: SqliteStore) -> None:
    """Every send is recorded: the lost one stays possibly charged (reserved), the resend
    repeats its idempotency key, and both count until the provider's answer says more."""
    submit(store, price=1.0)
    assert store.record_intent("k1", OWNER, 1.0, sent_key="k1-a1") == 2
    first, second = store.attempts("k1")
    assert (first.outcome, first.reserved, first.sent_key) == ("in_doubt", 1.0, "k1-a1")
    assert (second.outcome, second.sent_key) == (None, "k1-a1")
    assert store.totals().reserved == 2.0
    store.record_task("k1", "t1", 1.0)
    assert store.totals() == Totals(spent=1.0, reserved=1.0, refunded=0)


def test_a_new_attempt_is_sent_with_its_own_key_by_default(store: SqliteStore) -> None:
    submit(store, price=1.0)
    store.record_rejected("k1", "queue full")
    assert store.record_intent("k1", OWNER, 1.0) == 2
    assert [a.sent_key for a in store.attempts("k1")] == ["k1-a1", "k1-a2"]
    assert [a.outcome for a in store.attempts("k1")] == ["rejected", None]


@pytest.mark.parametrize(("final", "failure"), [(True, "final"), (False, "retryable")])
def test_failure_records_kind_and_reason(store: SqliteStore, final: bool, failure: str) -> None:
    submit(store)
    store.record_task("k1", "t1", 1.0)
    store.record_failure("k1", final=final, reason="moderation", refund=False)
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.failure, found.reason) == ("failed", failure, "moderation")


def test_refunds_are_accounted_in_totals(store: SqliteStore) -> None:
    for key in ("k1", "k2"):
        submit(store, key, price=1.0)
        store.record_task(key, f"t-{key}", 1.0)
    store.record_failure("k1", final=False, reason="upstream error", refund=True)
    assert store.totals() == Totals(spent=1.0, reserved=0, refunded=1.0)
    store.record_failure("k2", final=True, reason="banned", refund=False)
    assert store.totals() == Totals(spent=1.0, reserved=0, refunded=1.0)
    assert [a.refunded for a in store.attempts("k1")] == [1.0]


def test_a_failure_before_the_task_id_frees_the_reservation(store: SqliteStore) -> None:
    submit(store, price=3.0)
    store.record_failure("k1", final=True, reason="banned prompt", refund=True)
    assert store.totals() == Totals(spent=0, reserved=0, refunded=0)


def test_many_small_amounts_sum_exactly(store: SqliteStore) -> None:
    for _ in range(10):
        submit(store, price=0.1)
        store.record_task("k1", "t", 0.1)
        store.reset("k1", "again")
    assert store.totals() == Totals(spent=1.0, reserved=0, refunded=0)


def test_reset_keeps_history_and_money_but_clears_the_result(store: SqliteStore) -> None:
    submit(store)
    store.record_task("k1", "t1", 1.0)
    store.record_success("k1", ["https://cdn/a.mp4"], None)
    store.record_files("k1", [clip("k1")])
    store.reset("k1", "--force")
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.task_id, found.failure, found.clip_urls) == (
        "pending",
        None,
        None,
        (),
    )
    assert (found.attempt, found.reason) == (1, "--force")
    assert store.files("k1") == []
    assert submit(store) == 2
    store.record_task("k1", "t2", 1.0)
    assert [(a.task_id, a.outcome) for a in store.attempts("k1")] == [
        ("t1", "succeeded"),
        ("t2", None),
    ]
    assert store.totals().spent == 2.0


def test_reset_of_a_stuck_task_closes_its_attempt(store: SqliteStore) -> None:
    submit(store)
    store.record_task("k1", "t1", 1.0)
    store.reset("k1", "task timed out")
    [attempt] = store.attempts("k1")
    assert (attempt.outcome, attempt.reason, attempt.charged) == ("abandoned", "task timed out", 1)


def test_a_failed_submission_can_be_submitted_again(store: SqliteStore) -> None:
    submit(store)
    store.record_failure("k1", final=False, reason="queue", refund=False)
    assert store.record_intent("k1", OWNER, 1.0) == 2
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.failure, found.reason) == ("submitting", None, None)


def test_record_files_replaces_the_previous_files(store: SqliteStore) -> None:
    submit(store)
    store.record_task("k1", "t1", 1.0)
    store.record_success("k1", ["a", "b"], None)
    store.record_files("k1", [clip("k1", 0), clip("k1", 1)])
    store.record_files("k1", [clip("k1", 1)])
    assert store.files("k1") == [clip("k1", 1)]


def test_all_files_groups_by_key(store: SqliteStore) -> None:
    for key in ("k1", "k2"):
        submit(store, key)
        store.record_task(key, "t", 1.0)
        store.record_success(key, ["a"], None)
        store.record_files(key, [clip(key, 1), clip(key, 0)])
    assert store.all_files() == {
        "k1": [clip("k1", 0), clip("k1", 1)],
        "k2": [clip("k2", 0), clip("k2", 1)],
    }


def test_adopt_records_finished_work_without_a_charge(store: SqliteStore) -> None:
    store.adopt("k1", "t9", ["https://cdn/a.mp4"], None, [clip("k1")])
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.task_id, found.attempt) == ("downloaded", "t9", 1)
    assert store.files("k1") == [clip("k1")]
    assert [(a.task_id, a.outcome, a.charged) for a in store.attempts("k1")] == [
        ("t9", "adopted", 0)
    ]
    store.adopt("k2", "t8", ["https://cdn/b.mp4"], "https://cdn/i.png", [])
    assert status(store, "k2") == "succeeded"
    assert store.totals() == Totals(spent=0, reserved=0, refunded=0)


def test_declare_keeps_existing_work_and_renames_jobs(store: SqliteStore) -> None:
    submit(store)
    store.record_task("k1", "t1", 1.0)
    store.declare([spec("k1", job="renamed"), spec("k3")])
    found = store.get("k1")
    assert found is not None
    assert (found.job, found.status, found.task_id, found.attempt) == (
        "renamed",
        "submitted",
        "t1",
        1,
    )
    assert [s.key for s in store.submissions()] == ["k1", "k2", "k3"]


def test_declare_refuses_an_unknown_kind(store: SqliteStore) -> None:
    with pytest.raises(StateError):
        store.declare([spec("k9", kind="zoom")])
    assert store.get("k9") is None


def test_campaigns_are_separate_but_uploads_are_shared(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with store_at(path, "one") as one, store_at(path, "two") as two:
        one.declare([spec("k1")])
        two.declare([spec("k1", job="other"), spec("k2")])
        one.record_upload("f" * 64, "https://cdn/uploaded.png")
        assert two.upload_url("f" * 64) == "https://cdn/uploaded.png"
        assert two.upload_url("0" * 64) is None
        assert [s.job for s in one.submissions()] == ["job-k1"]
        assert [s.job for s in two.submissions()] == ["other", "job-k2"]
        assert one.claim("k1", OWNER, 60)
        one.record_intent("k1", OWNER, 5.0)
        assert two.totals() == Totals(spent=0, reserved=0, refunded=0)


def test_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with store_at(path) as first:
        first.declare([spec("k1")])
        submit(first)
        first.record_task("k1", "t1", 1.0)
    with store_at(path) as second:
        found = second.get("k1")
        assert found is not None
        assert (found.status, found.task_id) == ("submitted", "t1")
        assert second.totals().spent == 1.0


def test_reset_of_an_in_doubt_submission_keeps_its_reservation(store: SqliteStore) -> None:
    submit(store, price=2.0)
    store.reset("k1", "--force")
    assert store.totals() == Totals(spent=0, reserved=2.0, refunded=0)
    [attempt] = store.attempts("k1")
    assert (attempt.outcome, attempt.reserved) == ("in_doubt", 2.0)
    assert status(store) == "pending"


def test_a_refusal_given_up_on_becomes_a_failure(store: SqliteStore) -> None:
    submit(store, price=1.0)
    store.record_rejected("k1", "queue full")
    store.record_failure("k1", final=False, reason="queue full, out of tries", refund=True)
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.failure, found.attempt) == ("failed", "retryable", 1)
    assert [(a.outcome, a.reason) for a in store.attempts("k1")] == [("rejected", "queue full")]
    assert store.totals() == Totals(spent=0, reserved=0, refunded=0)


def test_a_job_that_never_started_can_fail(store: SqliteStore) -> None:
    store.record_failure("k2", final=True, reason="parent failed", refund=False)
    found = store.get("k2")
    assert found is not None
    assert (found.status, found.failure, found.attempt) == ("failed", "final", 0)
    assert store.attempts("k2") == []


def test_money_per_key_sums_every_attempt(store: SqliteStore) -> None:
    submit(store, price=1.0)
    store.record_task("k1", "t1", 1.0)
    store.record_failure("k1", final=False, reason="x", refund=True)
    assert store.record_intent("k1", OWNER, 1.0) == 2
    store.record_task("k1", "t2", 1.0)
    money = store.money()["k1"]
    assert (money.charged, money.refunded, money.reserved, money.spent) == (2.0, 1.0, 0.0, 1.0)
    assert store.totals().spent == money.spent
