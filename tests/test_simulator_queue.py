"""Queued and slow tasks over raw HTTP: queue texts, queue_seconds, stalls, the gateway timeout."""

from __future__ import annotations

from simsupport import FakeClock, wire

JOB = 10.0
HOUR = 3600.0


def test_a_queued_submit_says_so_with_code_1_like_a_gateway() -> None:
    with wire(slots=1) as w:
        running = w.create().json()
        queued = [w.create().json() for _ in range(2)]
        assert (running["code"], running["description"]) == (1, "Submit success")
        assert [(q["code"], q["description"]) for q in queued] == [
            (1, "排队中，前面还有0个任务"),
            (1, "排队中，前面还有1个任务"),
        ]
        assert w.fetch(queued[1]["result"])["status"] == "NOT_START"


def test_the_raw_upstream_queue_code_is_22_with_the_number_of_queues() -> None:
    with wire(slots=1, raw_queue_code=True) as w:
        w.task_id(w.create())
        w.task_id(w.create())
        queued = w.create().json()
        assert queued["code"] == 22 and queued["properties"] == {"numberOfQueues": 1}
        assert len(w.sim.charges()) == 3


def test_queue_seconds_hold_a_task_in_not_start_before_it_may_run() -> None:
    clock = FakeClock()
    with wire(clock, queue_seconds=30.0) as w:
        task_id = w.task_id(w.create())
        clock.now = 29.0
        assert w.fetch(task_id)["status"] == "NOT_START"
        clock.now = 30.0
        assert w.fetch(task_id)["status"] == "SUBMITTED"
        clock.now = 30.0 + JOB
        task = w.fetch(task_id)
        assert task["status"] == "SUCCESS" and task["finishTime"] - task["submitTime"] == 40_000


def test_a_stalled_task_runs_until_the_gateway_fails_it_after_an_hour_and_refunds() -> None:
    clock = FakeClock()
    with wire(clock, stall=1.0, slots=1) as w:
        stalled = w.task_id(w.create())
        waiting = w.task_id(w.create())
        clock.now = HOUR - 1
        assert [w.fetch(t)["status"] for t in (stalled, waiting)] == ["IN_PROGRESS", "NOT_START"]
        assert w.sim.money() == 1.2
        clock.now = HOUR
        for task_id in (stalled, waiting):  # the one still waiting for the slot times out too
            task = w.fetch(task_id)
            assert (task["status"], task["failReason"]) == ("FAILURE", "上游任务超时（超过1小时）")
        assert w.sim.money() == 0 and [c.refund for c in w.sim.charges()].count(True) == 2
        assert w.sim.faults_injected() == {"stall": 2}


def test_the_gateway_timeout_also_ends_tasks_that_queue_too_long() -> None:
    clock = FakeClock()
    with wire(clock, slots=1, gateway_timeout=15.0) as w:
        first, second = w.task_id(w.create()), w.task_id(w.create())
        clock.now = 15.0  # the second would finish at 20 s: too late
        assert w.fetch(first)["status"] == "SUCCESS"
        assert w.fetch(second)["failReason"] == "上游任务超时（超过1小时）"


def test_a_new_task_may_show_a_blank_status_at_first() -> None:
    clock = FakeClock()
    with wire(clock, blank_status_seconds=2.0) as w:
        task_id = w.task_id(w.create())
        assert w.fetch(task_id)["status"] == ""
        clock.now = 2.0
        assert w.fetch(task_id)["status"] == "IN_PROGRESS"


def test_peak_running_counts_tasks_of_the_account_running_at_once() -> None:
    clock = FakeClock()
    with wire(clock, slots=3) as w:
        assert w.sim.peak_running() == 0
        w.task_id(w.create())
        clock.now = 5.0
        w.task_id(w.create())
        assert w.sim.peak_running() == 2
        clock.now = 12.0
        w.task_id(w.create())
        w.task_id(w.create())  # one finished at 10 s: two running again, then three
        assert w.sim.peak_running() == 3
        w.task_id(w.create())  # the fourth waits: the slots cap what runs at once
        assert w.sim.peak_running() == 3
