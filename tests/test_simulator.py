"""The simulator against the real client over loopback: routes, state machine, slots, media."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from orchestrator import errors
from orchestrator.cli import main
from orchestrator.client import Client, ExtendRequest, VideoRequest
from orchestrator.commands import simulate
from orchestrator.model import Settings
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.simulator.config import DEFAULT_PRICES

T = TypeVar("T")
JOB = 10.0  # simulated seconds per job; the fake clock makes them free


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(job_seconds=JOB, slots=2), clock=clock) as s:
        yield s


def use(sim: Simulator, fn: Callable[[Client], Coroutine[Any, Any, T]], key: str = "") -> T:
    async def go() -> T:
        async with Client(key or sim.config.api_key, sim.base_url) as client:
            return await fn(client)

    return asyncio.run(go())


def video(state: str = "", batch: int = 1, prompt: str = "slow orbit", **kw: Any) -> VideoRequest:
    return VideoRequest(
        "https://cdn.example/a.png", prompt, Settings(batch_size=batch, **kw), state=state
    )


def statuses(sim: Simulator, ids: list[str]) -> list[tuple[str, str]]:
    return [(t.status, t.progress) for t in use(sim, lambda c: c.list_tasks(ids))]


def finished_video(sim: Simulator, clock: FakeClock, batch: int = 1, state: str = "v") -> str:
    task_id = use(sim, lambda c: c.create_video(video(state, batch)))
    clock.now += JOB
    return task_id


def test_the_api_requires_the_key_but_the_cdn_does_not(sim: Simulator, clock: FakeClock) -> None:
    with pytest.raises(errors.AuthenticationError):
        use(sim, lambda c: c.fetch_task("1"), key="sk-wrong-key-000")
    task_id = finished_video(sim, clock)
    clip = use(sim, lambda c: c.fetch_task(task_id)).clip_urls[0]
    assert httpx.get(clip).status_code == 200  # no Authorization header at all
    assert sim.requests_by_route()["GET /mj/task/{id}/fetch"] == 2


def test_slots_hold_later_tasks_in_not_start(sim: Simulator, clock: FakeClock) -> None:
    ids = [use(sim, lambda c, i=i: c.create_video(video(f"k{i}"))) for i in range(3)]
    assert statuses(sim, ids) == [("SUBMITTED", "0%"), ("SUBMITTED", "0%"), ("NOT_START", "0%")]
    clock.now = JOB / 2
    assert statuses(sim, ids)[0] == ("IN_PROGRESS", "50%")
    clock.now = JOB
    assert [s for s, _ in statuses(sim, ids)] == ["SUCCESS", "SUCCESS", "SUBMITTED"]
    clock.now = 2 * JOB
    task = use(sim, lambda c: c.fetch_task(ids[2]))
    assert task.succeeded and task.progress == "100%" and task.state == "k2"
    assert task.finish_time is not None and task.submit_time is not None
    assert task.finish_time - task.submit_time == 2 * JOB * 1000


def test_a_finished_video_has_one_clip_per_batch_item_and_buttons(
    sim: Simulator, clock: FakeClock
) -> None:
    task_id = finished_video(sim, clock, batch=4)
    task = use(sim, lambda c: c.fetch_task(task_id))
    assert len(task.clip_urls) == 4 and all(u.startswith(sim.base_url) for u in task.clip_urls)
    assert [b.split("::")[2:4] for b in task.buttons][3:] == [
        ["video_virtual_upscale", "4"],
        ["reroll", "0"],
    ]
    with pytest.raises(errors.InvalidRequestError, match="does not implement"):
        use(sim, lambda c: c.action(task.id, task.buttons[-1]))


def test_clips_are_unique_stable_mp4s(sim: Simulator, clock: FakeClock) -> None:
    task_id = finished_video(sim, clock, batch=2)
    task = use(sim, lambda c: c.fetch_task(task_id))

    async def grab(c: Client, url: str) -> bytes:
        out = io.BytesIO()
        await c.download(url, out.write)
        return out.getvalue()

    first, second, again = (
        use(sim, lambda c, u=u: grab(c, u)) for u in (*task.clip_urls, task.clip_urls[0])
    )
    assert first[4:8] == b"ftyp" and second[4:8] == b"ftyp"
    assert first != second and first == again


def test_clips_of_unfinished_tasks_are_not_served(sim: Simulator) -> None:
    task_id = use(sim, lambda c: c.create_video(video()))
    with pytest.raises(errors.DownloadError, match="404"):
        use(sim, lambda c: c.download(f"{sim.base_url}/cdn/{task_id}/0.mp4", lambda _: None))


def test_a_repeated_idempotency_key_returns_the_same_task_uncharged(clock: FakeClock) -> None:
    config = SimulatorConfig(job_seconds=JOB, honor_idempotency_key=True)
    with Simulator(config, clock=clock) as sim:
        _repeat_keys(sim)


def _repeat_keys(sim: Simulator) -> None:
    first = use(sim, lambda c: c.create_video(video("job-1-a1")))
    again = use(sim, lambda c: c.create_video(video("job-1-a1")))
    other = use(sim, lambda c: c.create_video(video("job-1-a2")))
    assert first == again != other
    assert sim.accepted_submissions() == {"job-1-a1": 1, "job-1-a2": 1}
    assert sim.submit_requests() == 3


def test_by_default_every_submit_is_charged(clock: FakeClock) -> None:
    with Simulator(SimulatorConfig(), clock=clock) as sim:
        ids = {use(sim, lambda c: c.create_video(video("same"))) for _ in range(2)}
        assert len(ids) == 2 and sim.accepted_submissions() == {"same": 2}


def test_extension_chains_are_checked(sim: Simulator, clock: FakeClock) -> None:
    parent = use(sim, lambda c: c.create_video(video("p", batch=2)))
    with pytest.raises(errors.InvalidRequestError, match="not SUCCESS"):
        use(sim, lambda c: c.extend_video(ExtendRequest(parent, 0, "low", "on")))
    clock.now += JOB
    with pytest.raises(errors.InvalidRequestError, match="index"):
        use(sim, lambda c: c.extend_video(ExtendRequest(parent, 2, "low", "on")))
    with pytest.raises(errors.NoAccountError):
        use(sim, lambda c: c.extend_video(ExtendRequest("999", 0, "low", "on")))
    for step in range(4):
        parent = use(
            sim,
            lambda c, p=parent, s=step: c.extend_video(
                ExtendRequest(p, 0, "high", "on", state=f"e{s}")
            ),
        )
        clock.now += JOB
    task = use(sim, lambda c: c.fetch_task(parent))
    assert task.action == "EXTEND" and task.succeeded and task.state == "e3"
    with pytest.raises(errors.InvalidRequestError, match="at most 4"):
        use(sim, lambda c: c.extend_video(ExtendRequest(parent, 0, "low", "on")))


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        (video(motion="wild"), "motion"),
        (video(batch=3), "batchSize"),
        (VideoRequest("", "x", Settings()), "image"),
    ],
)
def test_invalid_creates_are_refused(sim: Simulator, request_: VideoRequest, match: str) -> None:
    with pytest.raises(errors.InvalidRequestError, match=match):
        use(sim, lambda c: c.create_video(request_))
    assert sim.accepted_submissions() == {}


def test_unknown_tasks(sim: Simulator, clock: FakeClock) -> None:
    task_id = finished_video(sim, clock)
    with pytest.raises(errors.TaskNotFoundError):
        use(sim, lambda c: c.fetch_task("42"))
    assert [t.id for t in use(sim, lambda c: c.list_tasks(["42", task_id]))] == [task_id]


def test_uploads_are_served_back(sim: Simulator) -> None:
    urls = use(
        sim, lambda c: c.upload_images([(b"\x89PNG-1", "image/png"), (b"GIF89a", "image/gif")])
    )
    assert len(urls) == 2 and ".gif?ex=" in urls[1]
    assert httpx.get(urls[0]).content == b"\x89PNG-1"


def test_imagine_upscale_and_a_modal_answer(sim: Simulator, clock: FakeClock) -> None:
    grid = use(sim, lambda c: c.imagine("a red sneaker", state="img"))
    clock.now += JOB
    grid_task = use(sim, lambda c: c.fetch_task(grid))
    assert grid_task.action == "IMAGINE" and grid_task.image_url
    upscale = use(sim, lambda c: c.action(grid, grid_task.buttons[1], state="up2"))
    clock.now += JOB
    picked = use(sim, lambda c: c.fetch_task(upscale))
    assert picked.action == "UPSCALE" and httpx.get(picked.image_url or "").content[1:4] == b"PNG"
    with pytest.raises(errors.InvalidRequestError, match="button"):
        use(sim, lambda c: c.action(grid, f"MJ::JOB::upsample::1::{upscale}"))
    zoom = use(sim, lambda c: c.action(upscale, picked.buttons[0], state="zoom"))
    assert use(sim, lambda c: c.fetch_task(zoom)).needs_modal
    assert use(sim, lambda c: c.modal(zoom, "zoom out 2x")) == zoom
    clock.now += JOB
    assert use(sim, lambda c: c.fetch_task(zoom)).succeeded


def test_mode_path_prefixes_and_unknown_routes(sim: Simulator) -> None:
    auth = {"Authorization": f"Bearer {sim.config.api_key}"}
    body = {"prompt": "x", "state": "s"}
    ok = httpx.post(f"{sim.base_url}/mj-fast/mj/submit/imagine", json=body, headers=auth)
    assert ok.json()["code"] == 1
    assert httpx.post(f"{sim.base_url}/mj/submit/nope", json={}, headers=auth).status_code == 404
    bad = httpx.post(f"{sim.base_url}/mj/submit/video", content=b"{", headers=auth)
    assert bad.status_code == 400 and bad.json()["description"] == "bind_request_body_failed "


def test_many_concurrent_requests(sim: Simulator) -> None:
    async def burst(c: Client) -> list[str]:
        ids = await asyncio.gather(*(c.create_video(video(f"b{i}")) for i in range(50)))
        tasks = await asyncio.gather(*(c.fetch_task(i) for i in ids))
        return [t.id for t in tasks]

    assert len(set(use(sim, burst))) == 50
    assert sim.total_requests() == 100 and len(sim.accepted_submissions()) == 50


def test_mjv_simulate_prints_the_url_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate, "wait_forever", interrupt)
    out, err = io.StringIO(), io.StringIO()
    code = main(["simulate", "--port", "0", "--slots", "5", "--banned-word", "gore"], out, err)
    assert code == 0, err.getvalue()
    assert "MJV_BASE_URL=http://127.0.0.1:" in out.getvalue()
    assert "MJV_API_KEY=sk-simulator" in out.getvalue() and "stopped" in out.getvalue()


def test_mjv_simulate_reports_a_busy_port(sim: Simulator) -> None:
    port = sim.base_url.rsplit(":", 1)[1]
    err = io.StringIO()
    assert main(["simulate", "--port", port], io.StringIO(), err) == errors.EXIT_USAGE
    assert "cannot listen" in err.getvalue()


def test_every_simulate_option_reaches_the_config() -> None:
    from orchestrator.cli import build_parser

    argv = "simulate --job-seconds 0.5 --slots 7 --seed 3 --rate-limit 0.1 --retry-after 4"
    argv += " --server-error 0.2 --queue-full 0.3 --banned-word a --banned-word b --fail-rate 0.4"
    argv += " --slow 0.01 --drop-after-submit 0.5 --credits 9 --api-key sk-local-test"
    argv += " --queue-full-style 23 --moderation-style en --honor-idempotency-key --quota-style zh"
    argv += " --relay-error 0.05 --state-unknown 0.06 --refusal 0.07 --account-locked --no-hd"
    argv += " --upload-ttl 60 --clip-ttl 30 --require-browser-ua --queue-seconds 5"
    argv += " --raw-queue-code --stall 0.08 --gateway-timeout 90 --blank-status-seconds 1.5"
    argv += " --price relax=0.2 --price upload=0"
    config = simulate.config_from_args(build_parser().parse_args(argv.split()))
    assert config == SimulatorConfig(
        job_seconds=0.5,
        slots=7,
        seed=3,
        api_key="sk-local-test",
        rate_limit=0.1,
        retry_after=4.0,
        server_error=0.2,
        queue_full=0.3,
        banned_words=("a", "b"),
        fail_rate=0.4,
        slow=0.01,
        drop_after_submit=0.5,
        credits=9,
        queue_full_style="23",
        moderation_style="en",
        honor_idempotency_key=True,
        quota_style="zh",
        relay_error=0.05,
        state_unknown=0.06,
        refusal=0.07,
        account_locked=True,
        hd=False,
        upload_ttl=60.0,
        clip_ttl=30.0,
        require_browser_ua=True,
        queue_seconds=5.0,
        raw_queue_code=True,
        stall=0.08,
        gateway_timeout=90.0,
        blank_status_seconds=1.5,
        prices={**DEFAULT_PRICES, "relax": 0.2, "upload": 0.0},
    )


def test_simulate_defaults_are_the_config_defaults() -> None:
    from orchestrator.cli import build_parser

    assert simulate.config_from_args(build_parser().parse_args(["simulate"])) == SimulatorConfig()


def test_an_unknown_price_kind_is_a_usage_error() -> None:
    err = io.StringIO()
    code = main(["simulate", "--port", "0", "--price", "gold=1"], io.StringIO(), err)
    assert code == errors.EXIT_USAGE and "unknown kind gold" in err.getvalue()
