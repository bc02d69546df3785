"""The Store contract, run on SQLite and on a real PostgreSQL server alike."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from store_support import BACKENDS, Opener, fresh_location, opener
from test_state_helpers import clip, spec
from test_state_leases import dead_pid

from orchestrator.errors import LeaseLostError, StateError
from orchestrator.state import Store
from orchestrator.state.lifecycle import ANY_STATUS, TRANSITIONS, Action, Status

ME = f"{socket.gethostname()}:{os.getpid()}:me"
OTHER = f"{socket.gethostname()}:{os.getpid()}:other"
REMOTE = "another-host:1:abcd"
SHORT = 0.15  # seconds: a lease that expires within the test


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_location(request, tmp_path)


@pytest.fixture
def open_(location: str, tmp_path: Path) -> Opener:
    return opener(location, tmp_path)


@pytest.fixture
def store(open_: Opener) -> Iterator[Store]:
    with open_() as opened:
        opened.declare([spec("k1"), spec("k2")])
        yield opened


def walk_to(store: Store, status: Status, key: str = "k1") -> None:
    """Bring ``key`` from pending to ``status`` through the allowed transitions."""
    steps = {
        Status.SUBMITTING: lambda: store.record_intent(key, ME, 1.0),
        Status.SUBMITTED: lambda: store.record_task(key, "t1", 1.0),
        Status.RUNNING: lambda: store.record_running(key),
        Status.SUCCEEDED: lambda: store.record_success(key, ["u"], None),
        Status.DOWNLOADED: lambda: store.record_files(key, [clip(key)]),
    }
    store.claim(key, ME, 60)
    if status == Status.FAILED:
        store.record_failure(key, final=False, reason="boom", refund=False)
        return
    for step, action in steps.items():
        if status == Status.PENDING:
            return
        action()
        if step == status:
            return


def do(store: Store, action: Action, key: str = "k1") -> None:
    """Perform ``action`` on ``key`` with arguments that are otherwise valid."""
    calls = {
        Action.SUBMIT: lambda: store.record_intent(key, ME, 1.0),
        Action.TASK: lambda: store.record_task(key, "t2", 1.0),
        Action.FOLLOWUP: lambda: store.record_followup(key, "t3"),
        Action.REJECTED: lambda: store.record_rejected(key, "no"),
        Action.RUNNING: lambda: store.record_running(key),
        Action.SUCCESS: lambda: store.record_success(key, ["u"], None),
        Action.FAILURE: lambda: store.record_failure(key, final=True, reason="x", refund=False),
        Action.FILES: lambda: store.record_files(key, [clip(key)]),
        Action.RESET: lambda: store.reset(key, "again"),
        Action.ADOPT: lambda: store.adopt(key, "t4", ["u"], None, []),
    }
    calls[action]()


def current(store: Store, key: str = "k1") -> Status:
    found = store.get(key)
    assert found is not None
    return Status(found.status)


# --- the lifecycle table, checked on both stores ----------------------------------------------

FORBIDDEN = [(a, s) for a, t in TRANSITIONS.items() for s in ANY_STATUS - t.sources]
ALLOWED = [(a, s) for a, t in TRANSITIONS.items() for s in t.sources]


@pytest.mark.parametrize(("action", "status"), FORBIDDEN)
def test_an_action_from_a_status_outside_the_table_is_refused(
    store: Store, action: Action, status: Status
) -> None:
    walk_to(store, status)
    with pytest.raises(StateError, match=f"cannot {action}"):
        do(store, action)
    assert current(store) == status


@pytest.mark.parametrize(("action", "status"), ALLOWED)
def test_an_action_from_a_listed_status_reaches_its_target(
    store: Store, action: Action, status: Status
) -> None:
    walk_to(store, status)
    do(store, action)
    expected = Status.SUCCEEDED if action == Action.ADOPT else TRANSITIONS[action].target
    assert current(store) == expected


def test_the_status_enum_matches_the_stored_statuses() -> None:
    from orchestrator.state import STATUSES

    assert tuple(Status) == STATUSES


# --- submissions, money, files, uploads --------------------------------------------------------


def test_the_happy_path_keeps_money_and_files(store: Store) -> None:
    assert store.claim("k1", ME, 60)
    assert store.record_intent("k1", ME, 0.35) == 1
    assert store.totals().reserved == pytest.approx(0.35)
    store.record_task("k1", "task-1", 0.3, owner=ME)
    store.record_running("k1", owner=ME)
    store.record_success("k1", ["https://cdn/a.mp4"], "https://cdn/grid.png", owner=ME)
    store.record_files("k1", [clip("k1", 0), clip("k1", 1)], owner=ME)
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.task_id, found.clip_urls) == (
        "downloaded",
        "task-1",
        ("https://cdn/a.mp4",),
    )
    assert found.image_url == "https://cdn/grid.png"
    assert [f.index for f in store.files("k1")] == [0, 1]
    assert store.all_files() == {"k1": store.files("k1")}
    totals = store.totals()
    assert (totals.spent, totals.reserved, totals.refunded) == (0.3, 0.0, 0.0)


def test_many_small_amounts_sum_exactly(store: Store) -> None:
    specs = [spec(f"m{i}") for i in range(30)]
    store.declare(specs)
    for s in specs:
        store.claim(s.key, ME, 60)
        store.record_intent(s.key, ME, 0.1)
        store.record_task(s.key, f"t-{s.key}", 0.1)
    assert store.totals().spent == 3.0


def test_a_refunded_failure_and_a_reset_keep_every_attempt(store: Store) -> None:
    store.claim("k1", ME, 60)
    store.record_intent("k1", ME, 0.5)
    store.record_task("k1", "t1", 0.5)
    store.record_failure("k1", final=False, reason="boom", refund=True)
    store.reset("k1", "retry")
    store.record_intent("k1", ME, 0.5)
    attempts = store.attempts("k1")
    assert [(a.attempt, a.charged, a.refunded, a.outcome) for a in attempts] == [
        (1, 0.5, 0.5, "failed"),
        (2, 0.0, 0.0, None),
    ]
    totals = store.totals()
    assert (totals.spent, totals.reserved, totals.refunded) == (0.0, 0.5, 0.5)


def test_declare_renames_but_keeps_work(store: Store) -> None:
    walk_to(store, Status.SUBMITTED)
    store.declare([spec("k1", job="renamed"), spec("k3")])
    found = store.get("k1")
    assert found is not None
    assert (found.job, found.status) == ("renamed", "submitted")
    assert [s.key for s in store.submissions()] == ["k1", "k2", "k3"]


def test_an_undeclared_key_is_a_state_error(store: Store) -> None:
    with pytest.raises(StateError, match="never declared"):
        store.record_running("nope")
    with pytest.raises(StateError, match="never declared"):
        store.claim("nope", ME, 60)


def test_campaigns_are_separate_but_uploads_are_shared(store: Store, open_: Opener) -> None:
    walk_to(store, Status.SUBMITTED)
    store.record_upload("abc", "https://cdn/img.png")
    with open_("other") as other:
        assert other.submissions() == []
        assert other.totals().spent == 0.0
        assert other.upload_url("abc") == "https://cdn/img.png"
        assert other.upload_url("zzz") is None


def test_state_survives_reopening(store: Store, open_: Opener) -> None:
    walk_to(store, Status.DOWNLOADED)
    with open_() as again:
        assert again.get("k1") == store.get("k1")
        assert again.attempts("k1") == store.attempts("k1")
        assert again.totals() == store.totals()


# --- leases and fencing ------------------------------------------------------------------------


def test_a_live_lease_of_another_owner_is_refused(store: Store) -> None:
    assert store.claim("k1", OTHER, 60)
    assert not store.claim("k1", ME, 60)
    assert store.claim("k1", OTHER, 60)
    assert not store.claim("k1", REMOTE, 60)


def test_a_lease_expires_and_is_taken(store: Store) -> None:
    assert store.claim("k1", REMOTE, SHORT)
    assert not store.claim("k1", ME, 60)
    time.sleep(SHORT + 0.1)
    assert store.claim("k1", ME, 60)
    found = store.get("k1")
    assert found is not None and found.lease_owner == ME


def test_the_lease_of_a_dead_local_process_is_taken(store: Store) -> None:
    dead = f"{socket.gethostname()}:{dead_pid()}:gone"
    assert store.claim("k1", dead, 600)
    assert store.claim("k1", ME, 60)


def test_release_frees_only_our_own_lease(store: Store) -> None:
    store.claim("k1", OTHER, 60)
    store.release("k1", ME)
    assert not store.claim("k1", ME, 60)
    store.release("k1", OTHER)
    assert store.claim("k1", ME, 60)


def test_release_all_frees_every_lease_of_the_owner(store: Store) -> None:
    store.claim("k1", OTHER, 60)
    store.claim("k2", OTHER, 60)
    store.release_all(OTHER)
    assert store.claim("k1", ME, 60) and store.claim("k2", ME, 60)


def test_renewal_reports_the_keys_lost_to_another_owner(store: Store, open_: Opener) -> None:
    assert store.claim("k1", ME, SHORT)
    assert store.claim("k2", ME, 60)
    time.sleep(SHORT + 0.1)
    with open_() as rival:
        assert rival.claim("k1", REMOTE, 60)
    assert store.renew_leases(ME, 60) == {"k1"}
    assert store.renew_leases(ME, 60) == frozenset()
    found = store.get("k2")
    assert found is not None and found.lease_owner == ME


def test_renewal_keeps_an_expired_lease_nobody_took(store: Store) -> None:
    assert store.claim("k1", ME, SHORT)
    time.sleep(SHORT + 0.1)
    assert store.renew_leases(ME, 60) == frozenset()
    assert not store.claim("k1", REMOTE, 60)


def test_fenced_writes_from_a_stale_owner_are_refused(store: Store) -> None:
    assert store.claim("k1", ME, SHORT)
    store.record_intent("k1", ME, 1.0)
    time.sleep(SHORT + 0.1)
    assert store.claim("k1", REMOTE, 60)
    with pytest.raises(LeaseLostError, match="held by another-host"):
        store.record_task("k1", "late", 1.0, owner=ME)
    with pytest.raises(LeaseLostError):
        store.record_failure("k1", final=True, reason="x", refund=False, owner=ME)
    assert current(store) == Status.SUBMITTING
    assert store.attempts("k1")[-1].task_id is None
    store.record_task("k1", "t1", 1.0, owner=REMOTE)
    assert current(store) == Status.SUBMITTED


@pytest.mark.parametrize(
    "action",
    [Action.TASK, Action.FOLLOWUP, Action.REJECTED, Action.RUNNING, Action.SUCCESS, Action.FILES],
)
def test_every_result_write_is_fenced(store: Store, action: Action) -> None:
    source = min(TRANSITIONS[action].sources - {Status.PENDING}, key=list(Status).index)
    walk_to(store, source)
    store.release("k1", ME)
    store.claim("k1", OTHER, 60)
    fenced = {
        Action.TASK: lambda: store.record_task("k1", "t", 1.0, owner=ME),
        Action.FOLLOWUP: lambda: store.record_followup("k1", "t", owner=ME),
        Action.REJECTED: lambda: store.record_rejected("k1", "r", owner=ME),
        Action.RUNNING: lambda: store.record_running("k1", owner=ME),
        Action.SUCCESS: lambda: store.record_success("k1", [], None, owner=ME),
        Action.FILES: lambda: store.record_files("k1", [], owner=ME),
    }
    with pytest.raises(LeaseLostError):
        fenced[action]()
    assert current(store) == source
    do(store, action)  # unfenced (owner=None) still works, as before fencing existed


def test_submitting_needs_the_lease(store: Store) -> None:
    store.claim("k1", OTHER, 60)
    with pytest.raises(LeaseLostError):
        store.record_intent("k1", ME, 1.0)


# --- account job slots and budget holds --------------------------------------------------------


def test_job_slots_are_limited_per_account_across_campaigns(store: Store, open_: Opener) -> None:
    assert store.acquire_slot("acct", ME, 2, 60)
    assert store.acquire_slot("acct", ME, 2, 60)
    with open_("other") as other:
        assert not other.acquire_slot("acct", OTHER, 2, 60)
        assert other.acquire_slot("another-account", OTHER, 2, 60)
        store.release_slot("acct", ME)
        assert other.acquire_slot("acct", OTHER, 2, 60)
        assert not store.acquire_slot("acct", ME, 2, 60)


def test_several_slots_are_taken_at_once_up_to_those_free(store: Store) -> None:
    dead = f"{socket.gethostname()}:{dead_pid()}:gone"
    assert store.acquire_slot("acct", OTHER, 5, 60) == 1
    assert store.acquire_slot("acct", dead, 5, 600) == 1
    assert store.acquire_slot("acct", ME, 5, 60, wanted=2) == 2
    assert store.acquire_slot("acct", ME, 5, 60, wanted=3) == 2  # the last free, the dead's
    assert store.acquire_slot("acct", ME, 5, 60, wanted=3) == 0
    assert store.slot_holders("acct") == 2
    store.release_slot("acct", ME)
    assert store.acquire_slot("acct", OTHER, 5, 60, wanted=2) == 1


def test_several_slots_are_given_back_at_once_highest_first(store: Store) -> None:
    assert store.acquire_slot("acct", ME, 5, 60, wanted=4) == 4
    store.release_slot("acct", ME, 2)
    assert store.acquire_slot("acct", OTHER, 5, 60, wanted=5) == 3  # slots 2, 3 and 4
    store.release_slot("acct", ME, 5)  # more than it holds: all it holds
    assert store.slot_holders("acct") == 1
    assert store.acquire_slot("acct", REMOTE, 5, 60, wanted=5) == 2


def test_releasing_a_slot_we_do_not_hold_changes_nothing(store: Store) -> None:
    assert store.acquire_slot("acct", OTHER, 1, 60)
    store.release_slot("acct", ME)
    assert not store.acquire_slot("acct", ME, 1, 60)


def test_an_expired_slot_comes_back_unless_renewed(store: Store) -> None:
    assert store.acquire_slot("acct", REMOTE, 1, SHORT)
    assert store.acquire_slot("acct", OTHER, 2, SHORT)
    store.renew_leases(OTHER, 60)
    time.sleep(SHORT + 0.1)
    assert store.acquire_slot("acct", ME, 2, 60)
    assert not store.acquire_slot("acct", ME, 2, 60)


def test_the_slot_of_a_dead_local_process_comes_back(store: Store) -> None:
    dead = f"{socket.gethostname()}:{dead_pid()}:gone"
    assert store.acquire_slot("acct", dead, 1, 600)
    assert store.acquire_slot("acct", ME, 1, 60)


def test_release_all_gives_back_slots_and_holds(store: Store) -> None:
    assert store.acquire_slot("acct", OTHER, 1, 60)
    assert store.reserve(OTHER, 1.0, 1.0, 60)
    store.release_all(OTHER)
    assert store.acquire_slot("acct", ME, 1, 60)
    assert store.reserve(ME, 1.0, 1.0, 60)


def test_a_reservation_counts_spent_reserved_and_held_money(store: Store) -> None:
    walk_to(store, Status.SUBMITTED)  # 1.0 charged
    store.claim("k2", ME, 60)
    store.record_intent("k2", ME, 0.25)  # 0.25 reserved
    assert not store.reserve(ME, 0.5, 1.7, 60)
    assert store.reserve(ME, 0.45, 1.7, 60)
    assert not store.reserve(OTHER, 0.01, 1.7, 60)
    store.unreserve(ME, 0.2)
    assert store.reserve(OTHER, 0.2, 1.7, 60)
    assert store.totals().reserved == 0.25  # holds are not attempts' reservations


def test_an_expired_hold_no_longer_counts(store: Store) -> None:
    assert store.reserve(REMOTE, 1.0, 1.0, SHORT)
    assert store.reserve(OTHER, 1.0, 2.0, SHORT)
    store.renew_leases(OTHER, 60)
    time.sleep(SHORT + 0.1)
    assert store.reserve(ME, 1.0, 2.0, 60)
    assert not store.reserve(ME, 0.01, 2.0, 60)


# --- races between runners, each with its own connection ---------------------------------------


def race(open_: Opener, runners: int, work: Callable[[Store, int], object]) -> list[object]:
    """Run ``work(store, runner)`` in ``runners`` threads released together; their results."""
    barrier = threading.Barrier(runners)
    results: list[object] = [None] * runners
    stores = [open_() for _ in range(runners)]

    def one(index: int) -> None:
        barrier.wait()
        results[index] = work(stores[index], index)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    return results


def test_concurrent_claims_give_every_key_to_exactly_one_runner(
    store: Store, open_: Opener
) -> None:
    keys = [f"r{i:03d}" for i in range(60)]
    store.declare([spec(key) for key in keys])

    def claim_all(opened: Store, runner: int) -> list[str]:
        order = keys[runner % 2 :: 2] + keys[1 - runner % 2 :: 2]
        return [key for key in order if opened.claim(key, f"{ME}-{runner}", 60)]

    won = race(open_, 8, claim_all)
    winners = [key for keys_won in won for key in keys_won]  # type: ignore[union-attr]
    assert sorted(winners) == keys
    for key in keys:
        found = store.get(key)
        assert found is not None and found.lease_owner is not None
        assert key in won[int(found.lease_owner.rsplit("-", 1)[1])]  # type: ignore[operator]


def test_concurrent_slot_takers_never_exceed_the_limit(open_: Opener) -> None:
    got = race(open_, 8, lambda opened, i: opened.acquire_slot("acct", f"{ME}-{i}", 3, 60))
    assert got.count(True) == 3


def test_concurrent_releases_of_one_runner_free_as_many_slots(store: Store, open_: Opener) -> None:
    # A run gives slots back from its several connections at once. Each release picked the
    # runner's highest slot unlocked: two at once freed the same one, and the other stayed
    # held (and renewed) until the run ended, one slot fewer for the whole team.
    for _ in range(3):
        assert store.acquire_slot("acct", ME, 8, 60, wanted=8) == 8
        race(open_, 8, lambda opened, i: opened.release_slot("acct", ME))
        assert store.slot_holders("acct") == 0
        assert store.acquire_slot("acct", OTHER, 8, 60, wanted=8) == 8
        store.release_all(OTHER)


def test_concurrent_reservations_never_pass_the_cap(store: Store, open_: Opener) -> None:
    got = race(open_, 8, lambda opened, i: opened.reserve(f"{ME}-{i}", 1.0, 5.0, 60))
    assert got.count(True) == 5
    assert not store.reserve(ME, 0.01, 5.0, 60)


def test_an_in_doubt_resend_is_a_new_attempt_with_the_same_key(store: Store) -> None:
    walk_to(store, Status.SUBMITTING)
    assert store.record_intent("k1", ME, 1.0, sent_key="k1-a1") == 2
    first, second = store.attempts("k1")
    assert (first.outcome, first.reserved, first.sent_key) == ("in_doubt", 1.0, "k1-a1")
    assert (second.outcome, second.sent_key) == (None, "k1-a1")
    store.record_task("k1", "t2", 1.0)
    money = store.money()["k1"]
    assert (money.charged, money.reserved) == (1.0, 1.0)  # the lost send: possibly charged
    assert store.totals().reserved == 1.0


def test_uploads_keep_their_time_and_can_be_forgotten(store: Store) -> None:
    store.record_upload("f" * 64, "https://cdn/u.png?ex=1")
    record = store.upload("f" * 64)
    assert record is not None and record.url == "https://cdn/u.png?ex=1"
    assert record.recorded_at > 0
    store.forget_upload("f" * 64)
    assert store.upload("f" * 64) is None and store.upload_url("f" * 64) is None


def test_a_modal_answer_adds_its_price_to_the_attempt(store: Store) -> None:
    walk_to(store, Status.SUBMITTED)
    store.record_followup("k1", "t2", 0.05)
    (attempt,) = store.attempts("k1")
    assert attempt.charged == 1.05 and store.totals().spent == 1.05


def test_a_modal_answer_is_a_paid_submission_of_its_own(store: Store) -> None:
    """Kind 'modal' (schema version 4, issue 17): declared, sent and charged like any other."""
    from orchestrator.state import SubmissionSpec

    walk_to(store, Status.SUBMITTED)
    store.declare([SubmissionSpec("m1", "job", "modal", 0, "k1")])
    store.claim("m1", ME, 60)
    store.record_intent("m1", ME, 0.05)
    store.record_task("m1", "t2", 0.05)
    store.record_success("m1", (), "t2")
    store.record_followup("k1", "t2", 0.0)
    modal = store.get("m1")
    assert modal is not None and (modal.kind, modal.parent, modal.status) == (
        "modal",
        "k1",
        Status.SUCCEEDED,
    )
    assert store.totals().spent == 1.05


def test_declared_requests_are_kept_and_uploads_are_submissions(store: Store) -> None:
    from orchestrator.state import SubmissionSpec

    store.declare([SubmissionSpec("u1", "img", "upload", 0, None, '{"upload":1}')])
    sub = store.get("u1")
    assert sub is not None and (sub.kind, sub.request) == ("upload", '{"upload":1}')


def test_replaced_files_are_kept_as_versions(store: Store) -> None:
    walk_to(store, Status.DOWNLOADED)
    store.reset("k1", "forced")
    (version,) = store.file_versions()
    assert (version.attempt, version.file) == (1, clip("k1"))
    store.check_file()  # the state is still where it was opened


def test_slot_holders_counts_the_runners_sharing_an_account(store: Store) -> None:
    assert store.slot_holders("acct") == 0
    assert store.acquire_slot("acct", ME, 4, 60)
    assert store.acquire_slot("acct", ME, 4, 60)
    assert store.acquire_slot("acct", OTHER, 4, 60)
    assert store.slot_holders("acct") == 2
    store.release_slot("acct", OTHER)
    assert store.slot_holders("acct") == 1


def test_a_first_intent_on_postgres_is_one_statement_outside_a_transaction(
    store: Store, location: str
) -> None:
    # The intent is on the way from a free slot to the next paid request: one round trip.
    if not location.startswith("postgresql:"):
        pytest.skip("SQLite has no data-modifying WITH: the full transaction, no round trips")
    link = store.link  # type: ignore[attr-defined]
    sent: list[str] = []
    execute, transaction = link.execute, link.transaction

    def counted(sql: str, args: Sequence[Any] = ()) -> Any:
        sent.append(sql)
        return execute(sql, args)

    def refused() -> Any:
        raise AssertionError("a first intent opened a transaction")

    store.claim("k1", ME, 60)
    link.execute, link.transaction = counted, refused
    try:
        assert store.record_intent("k1", ME, 0.35) == 1
    finally:
        link.execute, link.transaction = execute, transaction
    assert len(sent) == 1
    assert store.totals().reserved == pytest.approx(0.35)
    assert [(a.attempt, a.outcome) for a in store.attempts("k1")] == [(1, None)]
    assert store.attempts("k1")[0].sent_key == "k1-a1"


@pytest.mark.parametrize("why", ["lease lost", "sent before", "refused before"])
def test_a_first_intent_that_cannot_go_the_short_way_goes_the_long_one(
    store: Store, why: str
) -> None:
    store.claim("k1", ME, 60)
    if why == "lease lost":
        store.release("k1", ME)
        store.claim("k1", OTHER, 60)
        with pytest.raises(LeaseLostError):
            store.record_intent("k1", ME, 0.35)
        assert store.totals().reserved == 0.0 and store.attempts("k1") == []
        return
    if why == "sent before":  # in doubt: the first attempt is closed, the second one sent
        assert store.record_intent("k1", ME, 0.35) == 1
        assert store.record_intent("k1", ME, 0.35) == 2
        assert [a.outcome for a in store.attempts("k1")] == ["in_doubt", None]
        assert store.totals().reserved == pytest.approx(0.7)
        return
    assert store.record_intent("k1", ME, 0.35) == 1
    store.record_rejected("k1", "queue full", owner=ME)  # pending again, after attempt 1
    assert store.record_intent("k1", ME, 0.35) == 2
    assert [a.outcome for a in store.attempts("k1")] == ["rejected", None]
    assert store.totals().reserved == pytest.approx(0.35)
