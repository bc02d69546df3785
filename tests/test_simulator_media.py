"""Media over raw HTTP: expiring uploads and clips, the browser User-Agent, gateway image URLs."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from simsupport import PNG_URI, FakeClock, Wire, wire

JOB = 10.0
TTL = 100.0


def upload(w: Wire) -> str:
    answer = w.post("submit/upload-discord-images", {"base64Array": [PNG_URI]}).json()
    assert answer["code"] == 1, answer
    (url,) = answer["result"]
    return str(url)


def test_uploads_are_signed_discord_style_urls_that_expire() -> None:
    clock = FakeClock()
    with wire(clock, upload_ttl=TTL) as w:
        url = upload(w)
        match = re.fullmatch(
            re.escape(w.sim.base_url) + r"/cdn/attachments/\d+/[\w.-]+\.png\?ex=([0-9a-f]+)"
            r"&is=([0-9a-f]+)&hm=[0-9a-f]+",
            url,
        )
        assert match, url
        expiry, issued = int(match.group(1), 16), int(match.group(2), 16)
        # A Unix time of about now (this machine's clock was seen to step back a second
        # between two reads: issue 17 item 9), and the expiry exactly TTL after it.
        assert abs(issued - time.time()) < 60 and expiry - issued == TTL
        assert w.download(url).content[1:4] == b"PNG"
        (charge,) = w.sim.charges()
        assert (charge.kind, charge.amount) == ("upload", 0.01)
        clock.now += TTL
        assert w.download(url).status_code == 404


@pytest.mark.parametrize("field", ["image", "endImage"])
def test_a_video_from_an_expired_upload_is_accepted_then_fails_and_is_refunded(field: str) -> None:
    clock = FakeClock()
    with wire(clock, upload_ttl=TTL) as w:
        url = upload(w)
        fresh = w.task_id(w.create(**{field: url}))
        clock.now += TTL
        dead = w.task_id(w.create(**{field: url}))
        clock.now += 2 * JOB
        assert w.fetch(fresh)["status"] == "SUCCESS"
        task = w.fetch(dead)
        assert task["status"] == "FAILURE"
        assert task["failReason"] == "invalid_request, No start frame provided"
        refunds = [c.task_id for c in w.sim.charges() if c.refund]
        assert refunds == [dead] and w.sim.money() == pytest.approx(0.01 + 0.6)


def test_clips_expire_clip_ttl_seconds_after_the_finish() -> None:
    clock = FakeClock()
    with wire(clock, clip_ttl=60.0, slots=1) as w:
        first, second = (w.task_id(w.create(batchSize=1)) for _ in range(2))
        clock.now += 2 * JOB
        clip_of = {t: w.fetch(t)["videoUrls"][0]["url"] for t in (first, second)}
        clock.now = JOB + 59.0
        assert [w.download(clip_of[t]).status_code for t in (first, second)] == [200, 200]
        clock.now = JOB + 60.0
        assert [w.download(clip_of[t]).status_code for t in (first, second)] == [404, 200]


def test_clips_never_expire_by_default() -> None:
    clock = FakeClock()
    with wire(clock) as w:
        task_id = w.task_id(w.create(batchSize=1))
        clock.now += JOB + 10 * 86400
        assert w.download(w.fetch(task_id)["videoUrl"]).status_code == 200


def test_a_non_browser_user_agent_is_refused_by_the_cdn_when_required() -> None:
    clock = FakeClock()
    with wire(clock, require_browser_ua=True) as w:
        task_id = w.task_id(w.create(batchSize=1))
        clock.now += JOB
        clip = w.fetch(task_id)["videoUrl"]
        assert w.download(clip, {"User-Agent": "python-httpx/0.27"}).status_code == 403
        assert w.download(clip).status_code == 200  # a browser agent
    with wire(clock) as w:
        task_id = w.task_id(w.create(batchSize=1))
        clock.now += JOB
        clip = w.fetch(task_id)["videoUrl"]
        assert w.download(clip, {"User-Agent": "python-httpx/0.27"}).status_code == 200


def _image_url(task: dict[str, Any]) -> str:
    return str(task["imageUrl"])


def test_imagine_images_are_gateway_urls_without_extension_and_key() -> None:
    clock = FakeClock()
    with wire(clock) as w:
        grid = w.task_id(w.post("submit/imagine", {"prompt": "a red sneaker"}))
        pending = _image_url(w.fetch(grid))
        assert re.fullmatch(re.escape(f"{w.sim.base_url}/mj/image/{grid}") + r"\?rand=\d+", pending)
        clock.now += JOB
        done = _image_url(w.fetch(grid))
        assert done == f"{w.sim.base_url}/mj/image/{grid}"
        answer = w.http.get(done)  # no Authorization header
        assert answer.status_code == 200 and answer.content[1:4] == b"PNG"
        assert answer.headers["content-type"] == "image/png"


def test_video_tasks_carry_clip_urls_and_a_poster_image() -> None:
    clock = FakeClock()
    with wire(clock) as w:
        task_id = w.task_id(w.create(batchSize=2))
        assert w.http.get(f"{w.sim.base_url}/mj/image/{task_id}").status_code == 404
        clock.now += JOB
        task = w.fetch(task_id)
        clips = [c["url"] for c in task["videoUrls"]]
        assert task["videoUrl"] == clips[0] and all(c.endswith(".mp4") for c in clips)
        assert task["imageUrl"] == f"{w.sim.base_url}/mj/image/{task_id}"
        assert w.download(task["imageUrl"]).content[1:4] == b"PNG"
        assert w.download(clips[1]).content[4:8] == b"ftyp"
