"""The store's worker threads: urgent calls go ahead of queued ones, each thread its own setup."""

from __future__ import annotations

import threading

import pytest

from orchestrator.state.lanes import Lanes


def _busy(lanes: Lanes) -> threading.Event:
    """Occupy the only thread of ``lanes`` until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait()

    lanes.submit(hold)
    assert started.wait(10)
    return release


def test_an_urgent_call_goes_ahead_of_the_calls_queued_before_it() -> None:
    lanes = Lanes(1, lambda: None, "test")
    ran: list[str] = []
    release = _busy(lanes)
    queued = [lanes.submit(lambda n=n: ran.append(f"read {n}")) for n in range(3)]
    intent = lanes.submit(lambda: ran.append("intent"), urgent=True)
    release.set()
    intent.result(10)
    for future in queued:
        future.result(10)
    lanes.shutdown()
    assert ran == ["intent", "read 0", "read 1", "read 2"]  # one priority keeps its order


def test_shutdown_runs_what_is_queued_then_stops_every_thread() -> None:
    lanes = Lanes(2, lambda: None, "test")
    release = _busy(lanes)
    late = lanes.submit(lambda: "done")
    release.set()
    lanes.shutdown()
    assert late.result(0) == "done"
    assert not [t for t in threading.enumerate() if t.name.startswith("test_")]


def test_each_thread_is_set_up_once_before_its_first_call() -> None:
    local = threading.local()
    setups: list[str] = []

    def setup() -> None:
        local.name = threading.current_thread().name
        setups.append(local.name)

    lanes = Lanes(3, setup, "test")
    names = {lanes.submit(lambda: str(local.name)).result(10) for _ in range(20)}
    lanes.shutdown()
    assert names <= set(setups)
    assert len(setups) == len(set(setups)) <= 3


def test_a_call_that_raises_hands_its_error_to_its_future_and_the_thread_goes_on() -> None:
    lanes = Lanes(1, lambda: None, "test")

    def fail() -> None:
        raise ValueError("no such row")

    with pytest.raises(ValueError, match="no such row"):
        lanes.submit(fail).result(10)
    assert lanes.submit(lambda: 7).result(10) == 7
    lanes.shutdown()


def test_a_thread_whose_setup_failed_fails_its_calls_with_that_error() -> None:
    def setup() -> None:
        raise ConnectionError("database unreachable")

    lanes = Lanes(1, setup, "test")
    with pytest.raises(ConnectionError, match="unreachable"):
        lanes.submit(lambda: 1).result(10)
    lanes.shutdown()


def test_a_call_cancelled_before_it_started_never_runs() -> None:
    lanes = Lanes(1, lambda: None, "test")
    ran: list[int] = []
    release = _busy(lanes)
    skipped = lanes.submit(lambda: ran.append(1))
    assert skipped.cancel()
    release.set()
    lanes.submit(lambda: ran.append(2)).result(10)
    lanes.shutdown()
    assert ran == [2]
