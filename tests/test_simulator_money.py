"""The charge ledger, money and the submit log, over raw HTTP."""

from __future__ import annotations

import httpx
import pytest
from simsupport import PNG_URI, FakeClock, wire

from orchestrator.simulator.config import DEFAULT_PRICES
from orchestrator.simulator.ledger import Charge, SubmitRecord

JOB = 10.0
PRICES = {"fast": 1.0, "relax": 0.5, "turbo": 2.0, "imagine": 0.25, "upscale": 0.125}


def test_default_prices_start_from_the_published_fast_video_price() -> None:
    assert DEFAULT_PRICES["fast"] == 0.6
    assert set(DEFAULT_PRICES) == {  # HD priced apart since issue 17 (resellers charge it ~2x)
        "fast",
        "fast_hd",
        "turbo_hd",
        "relax",
        "turbo",
        "imagine",
        "upscale",
        "upload",
        "modal",
    }


def test_every_charge_and_refund_is_a_ledger_line_at_its_price() -> None:
    clock = FakeClock()
    prices = {**PRICES, "upload": 0.01, "modal": 0.03}
    with wire(clock, prices=prices, fail_rate=1.0) as w:
        w.post("submit/upload-discord-images", {"base64Array": [PNG_URI]})
        video = w.task_id(w.create(prefix="relax", key="v-a1", state="ignored"))
        grid = w.task_id(w.post("submit/imagine", {"prompt": "cat", "state": "g-a1"}, "turbo"))
        clock.now += 2 * JOB
        assert w.sim.charges() == [
            Charge("upload", "fast", "", "", 0.01),
            Charge("video", "relax", "v-a1", video, 0.5),
            Charge("imagine", "turbo", "g-a1", grid, 0.25),
            Charge("video", "relax", "v-a1", video, 0.5, refund=True),
            Charge("imagine", "turbo", "g-a1", grid, 0.25, refund=True),
        ]
        assert w.sim.money() == 0.01
        assert w.sim.accepted_submissions() == {"v-a1": 1, "g-a1": 1}


def test_upscales_and_modal_answers_are_charged_at_their_own_prices() -> None:
    clock = FakeClock()
    with wire(clock, prices={**PRICES, "modal": 0.03}) as w:
        grid = w.task_id(w.post("submit/imagine", {"prompt": "cat"}))
        clock.now += JOB
        buttons = [b["customId"] for b in w.fetch(grid)["buttons"]]
        upscale = w.task_id(w.post("submit/action", {"taskId": grid, "customId": buttons[0]}))
        clock.now += JOB
        zoom_button = w.fetch(upscale)["buttons"][0]["customId"]
        zoom = w.task_id(w.post("submit/action", {"taskId": upscale, "customId": zoom_button}))
        w.task_id(w.post("submit/modal", {"taskId": zoom, "prompt": "zoom out"}))
        kinds = [(c.kind, c.amount) for c in w.sim.charges()]
        assert kinds == [("imagine", 0.25), ("action", 0.125), ("action", 0.125), ("modal", 0.03)]
        assert w.sim.money() == pytest.approx(0.53)


def test_money_is_rounded_to_a_millionth() -> None:
    with wire(prices={"fast": 0.1}) as w:
        for _ in range(3):
            w.task_id(w.create())
        assert w.sim.money() == 0.3  # not 0.30000000000000004


def test_the_submit_log_has_every_submit_even_refused_or_faulted_ones() -> None:
    with wire(credits=1, banned_words=("gore",)) as w:
        ok = w.task_id(w.create(prefix="turbo", key="a", state="s-a"))
        w.create(key="b", state="s-b")  # out of quota
        w.post("submit/imagine", {"prompt": "gore", "state": "s-c"})  # banned
        w.http.post(f"{w.sim.base_url}/mj/submit/video", content=b"{", headers=w.auth)
        assert w.sim.submit_log() == [
            SubmitRecord("video", "turbo", "a", "s-a", 200, 1, True, ok),
            SubmitRecord("video", "fast", "b", "s-b", 400, 4, False),
            SubmitRecord("imagine", "fast", "", "s-c", 200, 24, False),
            SubmitRecord("video", "fast", "", "", 400, 4, False),
        ]
        assert w.sim.submit_requests() == 4


def test_a_dropped_answer_is_logged_as_charged_and_dropped() -> None:
    with wire(drop_after_submit=1.0) as w:
        with pytest.raises(httpx.TransportError):
            w.create(key="k-a1")
        (record,) = w.sim.submit_log()
        assert (record.key, record.charged, record.dropped) == ("k-a1", True, True)
        assert record.task_id == w.sim.charges()[0].task_id
