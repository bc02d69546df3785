"""Waiting for a job slot wakes on its release (the local bell, PostgreSQL's NOTIFY), not a poll.

The waiter's safety poll is made to never return, so only a ring can end its wait; the
releasing side is another store (for PostgreSQL: another connection string, so that only the
database's NOTIFY can carry the news).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_state_helpers import clip, spec

from orchestrator.engine.account import SharedSlots
from orchestrator.engine.pacing import AdaptiveSlots
from orchestrator.errors import StateError
from orchestrator.state import AsyncStore, Store, open_postgres, open_store
from orchestrator.state.sql_leases import lease_channel, slots_channel, success_channel
from orchestrator.state.wakeups import _bells

OTHER = "elsewhere:1:other"  # a live runner on another host: only its release frees the slot
ME = "here:1:me"
GUARD = 30.0  # seconds: only against a hang, never reached when the ring works


def _slots(face: AsyncStore, limit: int, **more: Any) -> SharedSlots:
    """This run's slots: ``limit`` of its own, and the account's ``limit`` in the state."""
    return SharedSlots(
        AdaptiveSlots(limit), face, account="acct", owner=ME, limit=limit, lease_seconds=600, **more
    )


async def _wait_for_the_slot(waiter: Store, releaser: Store) -> None:
    assert releaser.acquire_slot("acct", OTHER, 1, 600)
    store = AsyncStore(waiter)
    forever = asyncio.Event()

    async def no_poll(_: float) -> None:
        await forever.wait()

    slots = _slots(store, 1, sleep=no_poll)
    acquiring = asyncio.ensure_future(slots.acquire())
    while not any(channel == slots_channel("acct") for _, channel in _bells):
        await asyncio.sleep(0.01)  # the waiter is listening
    listener = getattr(waiter.link, "_listener", None)  # PostgreSQL's LISTEN connection
    if listener is not None:
        await asyncio.to_thread(listener.ready.wait, GUARD)  # and so is the database
    await asyncio.to_thread(releaser.release_slot, "acct", OTHER)
    await asyncio.wait_for(acquiring, GUARD)
    assert slots.in_use == 1 and waiter.slot_holders("acct") == 1
    store.shutdown()


def test_a_slot_released_in_this_process_wakes_its_waiter(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db", "c") as waiter, open_store(tmp_path / "s.db", "c") as other:
        asyncio.run(_wait_for_the_slot(waiter, other))


def test_a_slot_released_by_another_runner_wakes_its_waiter_by_notify(postgres_url: str) -> None:
    url = f"{postgres_url}&schema=wakeups"
    with (
        open_postgres(url, "c") as waiter,
        open_postgres(f"{url}&application_name=x", "c") as other,
    ):
        assert waiter.link.topic != other.link.topic  # no ring inside this process
        asyncio.run(_wait_for_the_slot(waiter, other))


class _CountingSlots:
    """A store's job-slot calls, counted (each is a round trip on PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.taken = 0
        self.released = 0
        take, give = store.acquire_slot, store.release_slot

        def acquire_slot(*args: object) -> bool:
            self.taken += 1
            return take(*args)  # type: ignore[arg-type]

        def release_slot(*args: object) -> None:
            self.released += 1
            give(*args)  # type: ignore[arg-type]

        store.acquire_slot = acquire_slot  # type: ignore[method-assign]
        store.release_slot = release_slot  # type: ignore[method-assign]


async def _hand_over(store: Store, *, second_job: bool) -> SharedSlots:
    face = AsyncStore(store)
    slots = _slots(face, 1)
    await slots.acquire()
    waiting = asyncio.ensure_future(slots.acquire()) if second_job else None
    await asyncio.sleep(0)  # the second job waits for this run's only local slot
    slots.release()
    if waiting is not None:
        await asyncio.wait_for(waiting, GUARD)
    for _ in range(3):  # the loop's next turns: a slot nobody took goes back (in one statement
        await asyncio.sleep(0)  # with any others given back in its turn, one turn later)
    face.shutdown()  # its queued release is done
    return slots


def test_a_slot_given_back_goes_to_the_job_its_local_slot_wakes(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db", "c") as store, open_store(tmp_path / "s.db", "c") as other:
        counted = _CountingSlots(store)
        slots = asyncio.run(_hand_over(store, second_job=True))
        assert slots.in_use == 1
        assert (counted.taken, counted.released) == (1, 0)  # no round trip to the state
        assert not other.acquire_slot("acct", OTHER, 1, 600)  # still this run's


def test_a_slot_no_job_of_the_run_takes_goes_back_to_the_state(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db", "c") as store, open_store(tmp_path / "s.db", "c") as other:
        counted = _CountingSlots(store)
        slots = asyncio.run(_hand_over(store, second_job=False))
        assert slots.in_use == 0
        assert (counted.taken, counted.released) == (1, 1)
        assert other.acquire_slot("acct", OTHER, 1, 600)


async def _line_of_jobs(
    store: Store, other: Store, jobs: int, give_back: Callable[[], None]
) -> tuple[int, int]:
    """``jobs`` jobs of one run wait for the account's slots, all held by another runner,
    which then gives them back (``give_back``, once the run found the account full): this
    run's asks of the state, and the most in flight at once."""
    face = AsyncStore(store)
    ask, asks, in_flight, most = face.acquire_slot, 0, 0, 0

    async def counted(*args: object) -> int:
        nonlocal asks, in_flight, most
        asks, in_flight = asks + 1, in_flight + 1
        most = max(most, in_flight)
        try:
            return await ask(*args)  # type: ignore[arg-type]
        finally:
            in_flight -= 1

    face.acquire_slot = counted  # type: ignore[method-assign]
    forever = asyncio.Event()

    async def no_poll(_: float) -> None:
        await forever.wait()

    slots = _slots(face, jobs, sleep=no_poll)
    waiting = [asyncio.ensure_future(slots.acquire()) for _ in range(jobs)]
    while not asks or in_flight:  # the first ask found every slot held
        await asyncio.sleep(0.01)
    await asyncio.to_thread(give_back)
    await asyncio.wait_for(asyncio.gather(*waiting), GUARD)  # a ring woke the asker
    assert slots.in_use == jobs and not other.acquire_slot("acct", OTHER, jobs, 600)
    face.shutdown()
    return asks, most


def test_one_asker_per_run_asks_the_state_for_slots(tmp_path: Path) -> None:
    # Before, every waiting job of every runner asked again on each release: a dozen
    # transactions queued on a team's connections for one slot.
    with open_store(tmp_path / "s.db", "c") as store, open_store(tmp_path / "s.db", "c") as other:
        assert other.acquire_slot("acct", OTHER, 3, 600, wanted=3) == 3

        def one_by_one() -> None:
            for _ in range(3):
                other.release_slot("acct", OTHER)

        asks, most = asyncio.run(_line_of_jobs(store, other, 3, one_by_one))
        assert most == 1 and asks <= 4


def test_slots_given_back_at_once_are_taken_in_one_ask(tmp_path: Path) -> None:
    # The asker asks for as many slots as jobs wait: one ask takes them all.
    with open_store(tmp_path / "s.db", "c") as store, open_store(tmp_path / "s.db", "c") as other:
        assert other.acquire_slot("acct", OTHER, 3, 600, wanted=3) == 3
        asks, _ = asyncio.run(_line_of_jobs(store, other, 3, lambda: other.release_all(OTHER)))
        assert asks == 2  # the first found the account full, the second took all three


def _rings_of_a_step(holder: Store, listener: Store) -> list[str]:
    """The channels ``listener`` hears rung while ``holder`` takes ``k`` to saved clips."""
    heard: list[str] = []
    succeeded, saved = threading.Event(), threading.Event()

    def on(channel: str, then: threading.Event | None = None) -> Callable[[], None]:
        def rung() -> None:
            heard.append(channel)
            if then is not None:
                then.set()

        return rung

    holder.declare([spec("k")])
    with (
        listener.listening(success_channel("k"), on("succeeded", succeeded)),
        listener.listening(lease_channel("k"), on("lease", saved)),
    ):
        if getattr(listener.link, "_listener", None) is not None:  # PostgreSQL's LISTEN:
            # Once in place, it rings every channel (news may have been missed).
            assert succeeded.wait(GUARD) and saved.wait(GUARD)
            heard.clear()
            saved.clear()
        assert holder.claim("k", ME, 600)
        holder.record_intent("k", ME, 1.0)
        holder.record_task("k", "t1", 1.0, owner=ME)
        holder.record_success("k", ["u"], None, owner=ME)
        holder.record_files("k", [clip("k")], owner=ME)
        assert saved.wait(GUARD)  # notifications arrive in the order of their commits
    return heard


def test_a_success_rings_its_own_channel_and_saved_clips_the_lease_one(tmp_path: Path) -> None:
    # A runner waiting for the clips listens to the lease channel only: the success, which
    # it cannot use, no longer wakes it for a read.
    with open_store(tmp_path / "s.db", "c") as holder, open_store(tmp_path / "s.db", "c") as other:
        assert _rings_of_a_step(holder, other) == ["succeeded", "lease"]


def test_the_two_channels_reach_another_runner_by_notify(postgres_url: str) -> None:
    url = f"{postgres_url}&schema=channels"
    with (
        open_postgres(url, "c") as holder,
        open_postgres(f"{url}&application_name=x", "c") as other,
    ):
        assert _rings_of_a_step(holder, other) == ["succeeded", "lease"]


def test_a_failed_ask_reaches_every_job_in_line(tmp_path: Path) -> None:
    async def jobs_in_line(store: Store) -> list[BaseException | None]:
        face = AsyncStore(store)

        async def broken(*_: object) -> int:
            raise StateError("state file s.db was removed")

        face.acquire_slot = broken  # type: ignore[method-assign]
        slots = _slots(face, 2)
        got = await asyncio.wait_for(
            asyncio.gather(slots.acquire(), slots.acquire(), return_exceptions=True), GUARD
        )
        assert slots.in_use == 0  # their local slots were given back
        return [g if isinstance(g, BaseException) else None for g in got]

    with open_store(tmp_path / "s.db", "c") as store:
        errors = asyncio.run(jobs_in_line(store))
    assert [type(e) for e in errors] == [StateError, StateError]


def test_starting_to_listen_never_waits_for_the_connection(postgres_url: str) -> None:
    # A waiter starts to listen in the event loop's thread. It took the connection's lock,
    # which a transaction holds over its round trips: on a database 10 ms away every claim's
    # wait and every ask for a slot stalled the whole run for the transaction in flight.
    with open_postgres(f"{postgres_url}&schema=listen", "c") as store:
        in_transaction, done = threading.Event(), threading.Event()

        def transaction() -> None:
            with store.link.transaction():
                store.link.execute("SELECT 1")
                in_transaction.set()
                done.wait(GUARD)

        holder = threading.Thread(target=transaction)
        holder.start()
        try:
            assert in_transaction.wait(GUARD)

            def listen() -> None:
                with store.listening(lease_channel("k"), lambda: None):
                    pass

            waiter = threading.Thread(target=listen)
            waiter.start()
            waiter.join(GUARD / 3)
            assert not waiter.is_alive()  # done while the transaction still runs
        finally:
            done.set()
            holder.join()


def test_slots_given_back_in_one_turn_go_back_to_the_state_in_one_statement(
    tmp_path: Path,
) -> None:
    # A runner's releases take turns in the state: three one at a time, at a round's end,
    # held the last slot's hand-over back 60-120 ms.
    async def three_ends(store: Store) -> None:
        face = AsyncStore(store)
        slots = _slots(face, 3)
        for _ in range(3):
            await slots.acquire()
        for _ in range(3):
            slots.release()  # three tasks seen ended by one poll, no job of the run waiting
        for _ in range(3):
            await asyncio.sleep(0)  # the spares' turn of the loop, then the release's
        face.shutdown()

    with open_store(tmp_path / "s.db", "c") as store, open_store(tmp_path / "s.db", "c") as other:
        counted = _CountingSlots(store)
        asyncio.run(three_ends(store))
        assert counted.released == 1
        assert other.acquire_slot("acct", OTHER, 3, 600, wanted=3) == 3


def test_a_slot_about_to_go_back_to_the_state_is_taken_by_a_job_asking_first(
    tmp_path: Path,
) -> None:
    async def ask_before_the_release(store: Store) -> SharedSlots:
        face = AsyncStore(store)
        slots = _slots(face, 1)
        await slots.acquire()
        slots.release()
        await asyncio.sleep(0)  # the spare's turn: it is now to be released at the next one
        await slots.acquire()
        for _ in range(2):
            await asyncio.sleep(0)
        face.shutdown()
        return slots

    with open_store(tmp_path / "s.db", "c") as store, open_store(tmp_path / "s.db", "c") as other:
        counted = _CountingSlots(store)
        slots = asyncio.run(ask_before_the_release(store))
        assert slots.in_use == 1
        assert (counted.taken, counted.released) == (1, 0)  # no round trip either way
        assert not other.acquire_slot("acct", OTHER, 1, 600)
