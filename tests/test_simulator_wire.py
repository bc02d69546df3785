"""API.md rev 2 requests, over raw HTTP: speed mode by path, prompts, batch sizes, HD, refusals."""

from __future__ import annotations

from simsupport import FakeClock, wire

from orchestrator.simulator.config import DEFAULT_PRICES

JOB = 10.0


def test_the_speed_mode_comes_from_the_path_prefix_not_the_body() -> None:
    with wire() as w:
        for mode in ("fast", "relax", "turbo"):
            w.task_id(w.create(prefix=mode, state=mode))
        w.task_id(w.create(state="none", mode="relax", animateMode="bogus"))
        charges = w.sim.charges()
        assert [(c.key, c.mode) for c in charges] == [
            ("fast", "fast"),
            ("relax", "relax"),
            ("turbo", "turbo"),
            ("none", "fast"),  # body fields mode/animateMode do nothing, not even a refusal
        ]
        assert [c.amount for c in charges] == [DEFAULT_PRICES[c.mode] for c in charges]
        assert [r.mode for r in w.sim.submit_log()] == ["fast", "relax", "turbo", "fast"]


def test_relax_hd_is_refused_with_code_4_uncharged() -> None:
    with wire() as w:
        refused = w.create(prefix="relax", videoType="vid_1.1_i2v_720").json()
        assert refused["code"] == 4 and "relax" in refused["description"]
        w.task_id(w.create(prefix="fast", videoType="vid_1.1_i2v_720"))
        assert len(w.sim.charges()) == 1


def test_every_video_submission_needs_a_prompt() -> None:
    clock = FakeClock()
    with wire(clock) as w:
        for prompt in (None, "", "   "):
            answer = w.create(prompt=prompt).json()
            assert (answer["code"], answer["description"]) == (4, "Prompt 不能为空")
        parent = w.task_id(w.create())
        clock.now += JOB
        for prompt in (None, " "):
            answer = w.extend(parent, prompt=prompt).json()
            assert (answer["code"], answer["description"]) == (4, "Prompt 不能为空")
        assert len(w.sim.charges()) == 1


def test_batch_size_absent_means_four_clips_for_creates_and_extends() -> None:
    clock = FakeClock()
    with wire(clock) as w:
        one = w.task_id(w.create(batchSize=1))
        default = w.task_id(w.create())
        assert w.create(batchSize=3).json()["code"] == 4
        clock.now += JOB
        assert len(w.fetch(one)["videoUrls"]) == 1 and len(w.fetch(default)["videoUrls"]) == 4
        outside = w.extend(one, index=1).json()
        assert outside["code"] == 4 and "index" in outside["description"]
        extension = w.task_id(
            w.extend(one, index=0)
        )  # no batchSize: four clips, not the parent's 1
        two = w.task_id(w.extend(default, index=3, batchSize=2))
        clock.now += 2 * JOB
        assert len(w.fetch(extension)["videoUrls"]) == 4 and len(w.fetch(two)["videoUrls"]) == 2


def test_without_an_hd_account_hd_creates_get_code_3_and_sd_still_works() -> None:
    with wire(hd=False) as w:
        hd = w.create(videoType="vid_1.1_i2v_720").json()
        assert (hd["code"], hd["description"], hd["result"]) == (3, "无可用的账号实例", None)
        w.task_id(w.create(videoType="vid_1.1_i2v_480"))
        assert [c.kind for c in w.sim.charges()] == ["video"]


def test_a_state_over_255_characters_is_a_logic_refusal() -> None:
    with wire() as w:
        answer = w.create(state="k" * 256)
        payload = answer.json()
        assert answer.status_code == 200 and payload["success"] is False
        assert (payload["code"], payload["message"]) == (-1, "State参数过长，最大255字符")
        assert payload["timestamp"] and w.sim.charges() == []
        w.task_id(w.create(state="k" * 255))


def test_a_share_of_submits_meets_a_logic_refusal_uncharged() -> None:
    with wire(refusal=1.0) as w:
        payload = w.create().json()
        assert payload["success"] is False and payload["code"] == -1 and payload["message"]
        assert w.sim.charges() == [] and w.sim.faults_injected() == {"refusal": 1}


def test_a_locked_account_refuses_every_submit() -> None:
    with wire(account_locked=True) as w:
        imagine = w.post("submit/imagine", {"prompt": "cat"}).json()
        video = w.create().json()
        for payload in (imagine, video):
            assert payload == {**payload, "success": False, "code": -1}
            assert payload["message"] == "账号已被临时封锁，请勿使用违规词作图"
        assert w.sim.charges() == []
