"""A simulated world that survives restarts (and kill -9): the journal file behind `world=`."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from simsupport import BROWSER, PNG_URI, FakeClock, Wire

from orchestrator.cli import main
from orchestrator.errors import EXIT_ERROR
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.simulator.world import WorldError

JOB = 10.0
CONFIG = SimulatorConfig(job_seconds=JOB, slots=2)


def started(world: Path, clock: FakeClock, config: SimulatorConfig = CONFIG) -> Simulator:
    sim = Simulator(config, clock=clock, world=world)
    sim.start()
    return sim


def test_a_new_simulator_on_the_same_world_sees_tasks_clips_uploads_and_charges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, clock = tmp_path / "world.jsonl", FakeClock()
    monkeypatch.setattr(time, "time", lambda: 1_900_000_000.0 + clock.now)  # wall follows clock
    first = started(world, clock)
    with httpx.Client() as http:
        w = Wire(first, http)
        upload = w.post("submit/upload-discord-images", {"base64Array": [PNG_URI]}).json()
        done = w.task_id(w.create(batchSize=1, key="a"))
        clock.now += JOB
        running = w.task_id(w.create(batchSize=2, key="b"))
        clip = w.download(w.fetch(done)["videoUrl"]).content
        ledger, log, old_base = first.charges(), first.submit_log(), first.base_url
        first.stop()
        second = started(world, clock)
        w = Wire(second, http)
        assert second.base_url != old_base
        assert w.fetch(done)["videoUrl"].startswith(second.base_url)
        assert w.download(w.fetch(done)["videoUrl"]).content == clip
        url = upload["result"][0].replace(old_base, second.base_url)
        assert w.download(url).content[1:4] == b"PNG"
        assert w.fetch(running)["status"] == "SUBMITTED"
        clock.now += JOB
        assert len(w.fetch(running)["videoUrls"]) == 2
        assert second.charges() == ledger and second.submit_log() == log
        assert second.accepted_submissions() == {"a": 1, "b": 1}
        assert int(w.task_id(w.create())) > int(running)  # ids keep counting
        second.stop()


def test_times_are_wall_clock_so_a_restarted_clock_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wall = [1_900_000_000.0]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    world = tmp_path / "world.jsonl"
    with Simulator(CONFIG, clock=FakeClock(), world=world) as sim, httpx.Client() as http:
        task_id = Wire(sim, http).task_id(Wire(sim, http).create())
        submitted = Wire(sim, http).fetch(task_id)["submitTime"]
    wall[0] += JOB / 2  # the next process starts later, its clock from another origin
    with Simulator(CONFIG, clock=FakeClock(777.0), world=world) as sim, httpx.Client() as http:
        task = Wire(sim, http).fetch(task_id)
        assert task["submitTime"] == submitted and task["status"] == "IN_PROGRESS"
        assert task["progress"] == "50%"


def test_refunds_are_kept_and_never_repeated_after_a_restart(tmp_path: Path) -> None:
    world, clock = tmp_path / "world.jsonl", FakeClock()
    config = SimulatorConfig(job_seconds=JOB, fail_rate=1.0)
    with Simulator(config, clock=clock, world=world) as sim, httpx.Client() as http:
        Wire(sim, http).task_id(Wire(sim, http).create())
        clock.now += JOB
        assert sim.money() == 0
    for _ in range(2):
        with Simulator(config, clock=clock, world=world) as sim:
            assert [c.refund for c in sim.charges()] == [False, True] and sim.money() == 0


def test_a_line_torn_by_a_kill_is_dropped_and_writing_goes_on(tmp_path: Path) -> None:
    world, clock = tmp_path / "world.jsonl", FakeClock()
    with Simulator(CONFIG, clock=clock, world=world) as sim, httpx.Client() as http:
        task_id = Wire(sim, http).task_id(Wire(sim, http).create(key="a"))
    with world.open("ab") as f:
        f.write(b'{"t":"charge","v":{"kind":"vid')  # the write a kill -9 interrupted
    with Simulator(CONFIG, clock=clock, world=world) as sim, httpx.Client() as http:
        assert Wire(sim, http).fetch(task_id)["id"] == task_id
        Wire(sim, http).task_id(Wire(sim, http).create(key="b"))
    with Simulator(CONFIG, clock=clock, world=world) as sim:
        assert sim.accepted_submissions() == {"a": 1, "b": 1}
    assert all(json.loads(line) for line in world.read_text().splitlines())


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"hello\n", "line 1"),
        (b'{"world":"mjv-simulator","version":1}\n{"t":"task","v":{"id":1}}\n\n', "line 2"),
        (b'{"world":"mjv-simulator","version":1}\nnot json\n{"t":"x"}\n', "line 2"),
    ],
)
def test_a_corrupt_world_file_is_a_clear_error(tmp_path: Path, content: bytes, where: str) -> None:
    world = tmp_path / "world.jsonl"
    world.write_bytes(content)
    with pytest.raises(WorldError, match=where) as info:
        Simulator(CONFIG, world=world)
    assert str(world) in str(info.value)


def test_mjv_simulate_reports_a_corrupt_world_without_a_traceback(tmp_path: Path) -> None:
    world = tmp_path / "world.jsonl"
    world.write_text("garbage\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["simulate", "--port", "0", "--world", str(world)], out, err)
    assert code == EXIT_ERROR and str(world) in err.getvalue()
    assert "Traceback" not in err.getvalue()


CHILD = """
import sys, itertools
from pathlib import Path
from orchestrator.simulator.provider import FakeProvider
from orchestrator.simulator import SimulatorConfig
p = FakeProvider(SimulatorConfig(job_seconds=0.001), world=Path(sys.argv[1]))
auth = {"authorization": "Bearer sk-simulator"}
body = b'{"prompt": "x", "image": "https://cdn.example/a.png", "batchSize": 1}'
for i in itertools.count():
    p.handle("POST", "/mj/submit/video", {**auth, "idempotency-key": f"k{i}"}, body)
    p.handle("GET", f"/mj/task/{1700000000001 + i}/fetch", auth, b"")
"""


def test_kill_9_at_any_moment_leaves_a_world_that_loads(tmp_path: Path) -> None:
    world = tmp_path / "world.jsonl"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(world)])
    try:
        deadline = time.monotonic() + 20
        while (not world.exists() or world.stat().st_size < 20_000) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with Simulator(SimulatorConfig(job_seconds=0.001), world=world) as sim, httpx.Client() as http:
        charges = sim.charges()
        assert len(charges) > 10 and len(sim.accepted_submissions()) == len(charges)
        w = Wire(sim, http)
        last = w.fetch(charges[-1].task_id)
        assert last["status"] == "SUCCESS"
        assert w.download(last["videoUrl"], BROWSER).content[4:8] == b"ftyp"


def test_mjv_simulate_serves_a_world_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.commands import simulate

    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate, "wait_forever", interrupt)
    world, out = tmp_path / "world.jsonl", io.StringIO()
    assert main(["simulate", "--port", "0", "--world", str(world)], out, io.StringIO()) == 0
    assert f"world: {world}" in out.getvalue()
    assert json.loads(world.read_text().splitlines()[0])["world"] == "mjv-simulator"


def test_the_ledger_stays_readable_after_stop(tmp_path: Path) -> None:
    clock = FakeClock()
    config = SimulatorConfig(job_seconds=JOB, fail_rate=1.0)
    with Simulator(config, clock=clock, world=tmp_path / "w.jsonl") as sim, httpx.Client() as h:
        Wire(sim, h).task_id(Wire(sim, h).create())
    clock.now += JOB  # the refund happens after the file was closed
    assert [c.refund for c in sim.charges()] == [False, True]
