"""The APIMart profile (PROVIDERS.md section 3): its create route, MJ-style query and errors."""

from __future__ import annotations

import re
from typing import Any

from orchestrator.simulator.front import (
    BadRequest,
    ProfileFront,
    check_fields,
    one_of,
    read_object,
    reply_like,
)
from orchestrator.simulator.replies import Reply, json_reply

CREATE = "/v1/midjourney/generations/video"
_QUERY = re.compile(r"^/v1/(?:midjourney|midjourney/tasks|tasks)/([^/]+)$")
FIELDS = frozenset(
    {"prompt", "image_urls", "task_id", "index", "video_type", "animate_mode", "motion"}
    | {"batch_size", "end_url"}
)
VIDEO_TYPES = (
    "vid_1.1_i2v_480",
    "vid_1.1_i2v_720",
    "vid_1.1_i2v_start_end_480",
    "vid_1.1_i2v_start_end_720",
)
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "payment_required",
    403: "permission_error",
    404: "not_found_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "bad_gateway",
    504: "gateway_timeout",  # not in APIMart's table: what a proxy in front would say
}
_REFUSALS = {
    "rate": (429, "Too many requests"),
    "quota": (402, "Insufficient balance"),
    "unknown": (504, "Gateway timeout"),  # accepted and charged, the answer lost
    "500": (500, "Internal server error"),
    "502": (502, "Bad gateway"),
    "503": (500, "Internal server error"),
    "other": (500, "No available upstream"),  # queue full, refusals, relay
}
MODERATION = "图片或提示词未通过内容审核，已自动退款"
ID_PREFIX = "task_"
RETENTION_MS = 3 * 86400 * 1000  # task records; the clip URLs themselves stay


def error(status: int, message: str, reply: Reply | None = None) -> Reply:
    """APIMart's error body."""
    body = {"error": {"code": status, "message": message, "type": _TYPES.get(status, "error")}}
    return reply_like(reply, body, status) if reply else json_reply(status, body)


class ApimartFront(ProfileFront):
    """Answers APIMart's routes from the simulated account."""

    name = "apimart"

    def price(self, kind: str, mode: str, task_id: str) -> float | None:
        """2 or 4 credits (0.20 / 0.40) per clip of the batch."""
        task = self.inner.book().get(task_id)  # called under the account's lock
        if task is None or kind != "video":
            return None
        return self.clip_price(task)

    def unauthorized(self) -> Reply:
        """401 authentication_error."""
        return error(401, "Invalid API key")

    def bad_request(self, message: str) -> Reply:
        """400 invalid_request_error."""
        return error(400, message)

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        """The create route and the task queries."""
        bare = path.split("?", 1)[0]
        if method == "POST" and bare == CREATE:
            return self.create(read_object(raw))
        query = _QUERY.match(bare)
        if method == "GET" and query:
            return self.query(query.group(1))
        return error(404, f"Invalid URL ({method} {bare})")

    def create(self, body: dict[str, Any]) -> Reply:
        """Check a create against the contract, then submit it to the account."""
        check_fields(body, FIELDS)
        image = self._image(body)
        vtype = one_of(body, "video_type", VIDEO_TYPES, "vid_1.1_i2v_480")
        one_of(body, "animate_mode", ("manual",), "manual")  # auto needs task_id + index
        motion = one_of(body, "motion", ("low", "high"), "high")
        batch = one_of(body, "batch_size", (1, 2, 4), 1)
        prompt, end = body.get("prompt"), body.get("end_url")
        if not isinstance(prompt, str) or not prompt.strip():
            raise BadRequest("prompt is empty: task_id is required")
        if end is not None and not (isinstance(end, str) and end.startswith("http")):
            raise BadRequest("end_url must be an image URL")
        if any(word in prompt for word in self.inner.config.banned_words):
            return error(422, MODERATION)  # refused and refunded at once: nothing charged
        inner: dict[str, Any] = {
            "prompt": f"{image} {prompt}",
            "image": image,
            "motion": motion,
            "videoType": "vid_1.1_i2v_720" if vtype.endswith("720") else "vid_1.1_i2v_480",
            "batchSize": batch,
            "loop": False,
        }
        if end:
            inner["endImage"] = end
        return self.answer(self.submit(inner))

    def _image(self, body: dict[str, Any]) -> str:
        if "task_id" in body:
            raise BadRequest("task_id: no such imagine task")  # the simulator makes no stills
        urls = body.get("image_urls")
        if not isinstance(urls, list) or len(urls) != 1:
            raise BadRequest("exactly one of image_urls (one image) or task_id is required")
        if "index" in body:
            raise BadRequest("index needs task_id")
        if not isinstance(urls[0], str) or not urls[0].startswith(("http://", "https://")):
            raise BadRequest("image_urls must hold an image URL")
        return urls[0]

    def accepted(self, task_id: str) -> dict[str, Any]:
        """``{"code": 200, "data": [{"status": "submitted", "task_id": ...}]}``."""
        return {"code": 200, "data": [{"status": "submitted", "task_id": ID_PREFIX + task_id}]}

    def refusal(self, kind: str, text: str, reply: Reply) -> Reply:
        """APIMart's error for what the account answered."""
        if kind == "invalid":
            return error(400, text, reply)
        return error(*_REFUSALS[kind], reply)

    def not_found(self) -> Reply:
        """404 not_found_error."""
        return error(404, "task not found")

    def query(self, task_id: str) -> Reply:
        """The MJ-style task object, as in the documented SUCCESS example."""
        own = task_id[len(ID_PREFIX) :] if task_id.startswith(ID_PREFIX) else ""
        raw = self.look_up(own)
        if isinstance(raw, Reply):
            return raw
        if self._expired(raw):  # "retained for 3 days; after that, queries return 404"
            return error(404, "task not found")
        status = raw.get("status") or "NOT_START"
        body: dict[str, Any] = {
            "id": task_id,
            "status": status,
            "action": "VIDEO",
            "mode": "FAST",
            "progress": raw.get("progress") or "0%",
        }
        if status == "SUCCESS":
            urls = [v["url"] for v in raw.get("videoUrls") or () if isinstance(v, dict)]
            body |= {"video_url": urls[0] if urls else None, "video_urls": urls}
        if status == "FAILURE":
            body["fail_reason"] = _reason(str(raw.get("failReason") or ""))
        return json_reply(200, body)

    def _expired(self, raw: dict[str, Any]) -> bool:
        finished = raw.get("finishTime")
        now = self.inner.book().ms(self.inner.now())
        return isinstance(finished, int) and now - finished > RETENTION_MS


def _reason(text: str) -> str:
    """APIMart's documented fail_reason values for the account's reasons."""
    if "敏感" in text or "Banned" in text or "denied" in text:
        return "Banned prompt detected"
    if "超时" in text or "timeout" in text.lower():
        return "Task timeout"
    return "No available upstream"
