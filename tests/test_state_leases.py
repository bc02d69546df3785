"""Leases of the state store: who may submit a job, and two stores racing on one file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_state_helpers import Clock, spec, store_at

from orchestrator.errors import StateError
from orchestrator.state import SqliteStore, holder_is_dead, make_owner

HOST = socket.gethostname()
ME = make_owner()
OTHER_LIVE = f"{HOST}:{os.getpid()}:other"
REMOTE = "another-host:1:abcd"


def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SqliteStore]:
    with store_at(tmp_path / "state.db", clock=clock) as opened:
        opened.declare([spec("k1"), spec("k2")])
        yield opened


def holder(store: SqliteStore, key: str = "k1") -> str | None:
    found = store.get(key)
    assert found is not None
    return found.lease_owner


def test_a_free_lease_is_taken(store: SqliteStore, clock: Clock) -> None:
    assert store.claim("k1", ME, 30)
    found = store.get("k1")
    assert found is not None
    assert (found.lease_owner, found.lease_until) == (ME, clock.now + 30)


def test_our_own_lease_is_taken_again(store: SqliteStore) -> None:
    assert store.claim("k1", ME, 30)
    assert store.claim("k1", ME, 30)


@pytest.mark.parametrize("other", [OTHER_LIVE, REMOTE, "not-an-owner-id"])
def test_a_live_lease_of_another_owner_is_refused(store: SqliteStore, other: str) -> None:
    assert store.claim("k1", other, 30)
    assert not store.claim("k1", ME, 30)
    assert holder(store) == other


def test_an_expired_lease_is_taken(store: SqliteStore, clock: Clock) -> None:
    assert store.claim("k1", REMOTE, 30)
    clock.now += 30
    assert store.claim("k1", ME, 30)
    assert holder(store) == ME


def test_the_lease_of_a_dead_local_process_is_taken(store: SqliteStore) -> None:
    dead = f"{HOST}:{dead_pid()}:gone"
    assert holder_is_dead(dead)
    assert store.claim("k1", dead, 3600)
    assert store.claim("k1", ME, 30)
    assert holder(store) == ME


def test_only_local_pids_are_probed() -> None:
    assert not holder_is_dead(f"another-host:{dead_pid()}:x")
    assert not holder_is_dead(OTHER_LIVE)
    assert not holder_is_dead("garbage")


def test_renewing_extends_every_lease_of_the_owner(store: SqliteStore, clock: Clock) -> None:
    assert store.claim("k1", REMOTE, 30)
    assert store.claim("k2", REMOTE, 30)
    clock.now += 20
    store.renew_leases(REMOTE, 30)
    clock.now += 20
    assert not store.claim("k1", ME, 30)
    assert not store.claim("k2", ME, 30)


def test_release_frees_only_the_holders_lease(store: SqliteStore) -> None:
    assert store.claim("k1", REMOTE, 30)
    store.release("k1", ME)
    assert holder(store) == REMOTE
    store.release("k1", REMOTE)
    assert holder(store) is None
    assert store.claim("k1", ME, 30)


def test_release_all_frees_every_lease_of_the_owner_and_no_other(store: SqliteStore) -> None:
    assert store.claim("k1", ME, 30) and store.claim("k2", REMOTE, 30)
    store.release_all(ME)
    assert holder(store) is None
    assert not store.claim("k2", ME, 30)  # REMOTE still holds k2


def test_intent_needs_the_lease(store: SqliteStore) -> None:
    with pytest.raises(StateError, match="lease"):
        store.record_intent("k1", ME, 1.0)
    assert store.claim("k1", REMOTE, 30)
    with pytest.raises(StateError, match="lease"):
        store.record_intent("k1", ME, 1.0)
    found = store.get("k1")
    assert found is not None
    assert (found.status, found.attempt) == ("pending", 0)


def test_two_stores_racing_for_the_same_keys_never_both_win(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    keys = [f"k{i:03}" for i in range(60)]
    with store_at(path) as setup:
        setup.declare([spec(key) for key in keys])
    owners = [f"{HOST}:{os.getpid()}:racer{i}" for i in range(2)]
    won: dict[str, list[str]] = {key: [] for key in keys}
    start = threading.Barrier(2)

    def race(owner: str) -> None:
        with store_at(path) as store:
            start.wait()
            for key in keys:
                if store.claim(key, owner, 60):
                    won[key].append(owner)

    threads = [threading.Thread(target=race, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(winners) == 1 for winners in won.values())


RACER = """
import sys
from pathlib import Path
from orchestrator.state import open_store
store = open_store(Path(sys.argv[1]), "demo")
owner = sys.argv[2]
sys.stdin.readline()
won = [s.key for s in store.submissions() if store.claim(s.key, owner, 60)]
print(" ".join(won))
"""


def test_two_processes_racing_for_the_same_keys_never_both_win(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    keys = [f"k{i:03}" for i in range(100)]
    with store_at(path) as setup:
        setup.declare([spec(key) for key in keys])
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(path), f"{HOST}:{os.getpid()}:p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [racer.communicate("go\n")[0].split() for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    assert sorted(outputs[0] + outputs[1]) == keys


def test_claiming_an_undeclared_key_is_a_state_error(store: SqliteStore) -> None:
    with pytest.raises(StateError, match="never declared"):
        store.claim("nope", ME, 30)


def test_one_store_can_be_shared_by_threads(store: SqliteStore) -> None:
    keys = [f"t{i:03}" for i in range(80)]
    store.declare([spec(key) for key in keys])
    errors: list[BaseException] = []

    def work(part: list[str]) -> None:
        try:
            for key in part:
                assert store.claim(key, ME, 60)
                store.record_intent(key, ME, 0.5)
                store.record_task(key, f"task-{key}", 0.5)
        except BaseException as exc:  # the main thread reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(keys[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.totals().spent == 40.0
    assert {s.status for s in store.submissions() if s.key in keys} == {"submitted"}
