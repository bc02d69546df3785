"""The Kie.ai profile (PROVIDERS.md section 4): generate, extend, record-info and its errors.

Errors come as ``{"code", "msg", "data"}`` with HTTP 200 (the stricter reading: a client must
read the body's code); a failed task is not refunded (no refund is documented).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from orchestrator.providers.pricing import PUBLISHED
from orchestrator.simulator.front import (
    BadRequest,
    ProfileFront,
    check_fields,
    one_of,
    read_object,
    reply_like,
)
from orchestrator.simulator.replies import Reply, json_reply

GENERATE = "/api/v1/mj/generate"
EXTEND = "/api/v1/mj/generateVideoExtend"
RECORD = "/api/v1/mj/record-info"
GENERATE_FIELDS = frozenset(
    {"taskType", "prompt", "fileUrls", "fileUrl", "videoBatchSize", "motion", "speed"}
    | {"aspectRatio", "version", "variety", "stylization", "weirdness", "waterMark"}
    | {"enableTranslation", "callBackUrl", "ow"}
)
EXTEND_FIELDS = frozenset({"taskType", "taskId", "index", "prompt", "waterMark", "callBackUrl"})
MAX_PROMPT = 2000
_REFUSALS = {
    "rate": (429, "Rate Limited"),
    "quota": (402, "Insufficient Credits"),
    "500": (500, "Internal Error"),
    "other": (455, "Service unavailable"),  # queue full, refusals, relay
}


def error(code: int, msg: str, reply: Reply | None = None) -> Reply:
    """Kie's error body, with HTTP 200."""
    body = {"code": code, "msg": msg, "data": None}
    return reply_like(reply, body, 200) if reply else json_reply(200, body)


class KieFront(ProfileFront):
    """Answers Kie's MJ video routes from the simulated account."""

    name = "kie"

    def price(self, kind: str, mode: str, task_id: str) -> float | None:
        """15 or 45 credits per clip of the batch; 60 per extension."""
        task = self.inner.book().get(task_id)  # called under the account's lock
        if task is None or kind not in ("video", "extend"):
            return None
        if kind == "extend":
            return PUBLISHED["kie"].prices["extend"]
        return self.clip_price(task)

    def unauthorized(self) -> Reply:
        """401 in the body."""
        return error(401, "Unauthorized: invalid API key")

    def bad_request(self, message: str) -> Reply:
        """400 in the body."""
        return error(400, message)

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        """Generate, extend and the record query."""
        parts = urlsplit(path)
        if method == "POST" and parts.path == GENERATE:
            return self.generate(read_object(raw))
        if method == "POST" and parts.path == EXTEND:
            return self.extend(read_object(raw))
        if method == "GET" and parts.path == RECORD:
            ids = parse_qs(parts.query).get("taskId", [""])
            return self.record(ids[0])
        return json_reply(404, {"code": 404, "msg": f"Invalid URL ({method} {parts.path})"})

    def generate(self, body: dict[str, Any]) -> Reply:
        """Check a video generate against the contract, then submit it to the account."""
        check_fields(body, GENERATE_FIELDS)
        kind = one_of(body, "taskType", ("mj_video", "mj_video_hd"), None)
        prompt = _prompt(body.get("prompt"))
        urls = body.get("fileUrls")
        if not isinstance(urls, list) or len(urls) != 1 or not _is_url(urls[0]):
            raise BadRequest("fileUrls must hold exactly one image URL when generating video")
        motion = one_of(body, "motion", ("high", "low"), None)  # required for video
        batch = one_of(body, "videoBatchSize", (1, 2, 4), 1)
        inner = {
            "prompt": f"{urls[0]} {prompt}",
            "image": urls[0],
            "motion": motion,
            "videoType": "vid_1.1_i2v_720" if kind == "mj_video_hd" else "vid_1.1_i2v_480",
            "batchSize": batch,
            "loop": False,
        }
        return self.answer(self.submit(inner))

    def extend(self, body: dict[str, Any]) -> Reply:
        """Extend one clip of an original video record (chains are not documented: refused)."""
        check_fields(body, EXTEND_FIELDS)
        kind = one_of(body, "taskType", ("mj_video_extend_manual", "mj_video_extend_auto"), None)
        parent = self.task(str(body.get("taskId") or ""))
        if parent is None:
            return error(404, "task not found")
        if parent.action != "VIDEO":
            raise BadRequest("taskId must be an original video record")
        index = body.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise BadRequest("index must be an integer")
        auto = kind == "mj_video_extend_auto"
        prompt = parent.prompt if auto else _prompt(body.get("prompt"))
        inner = {
            "action": "extend",
            "taskId": parent.id,
            "index": index,
            "motion": "high",
            "prompt": prompt,
            "batchSize": 1,
        }
        return self.answer(self.submit(inner))

    def accepted(self, task_id: str) -> dict[str, Any]:
        """``{"code": 200, "msg": "success", "data": {"taskId": ...}}``."""
        return {"code": 200, "msg": "success", "data": {"taskId": task_id}}

    def refusal(self, kind: str, text: str, reply: Reply) -> Reply:
        """Kie's error for what the account answered; a proxy's page for 502-504."""
        if kind == "unknown":  # accepted and charged, the answer lost
            return _page(504, "Gateway Time-out", reply)
        if kind in ("502", "503"):
            return _page(int(kind), "Bad Gateway", reply)
        if kind == "invalid":
            return error(400, text, reply)
        return error(*_REFUSALS[kind], reply)

    def not_found(self) -> Reply:
        """404 in the body."""
        return error(404, "task not found")

    def record(self, task_id: str) -> Reply:
        """A record-info answer built from the account's task."""
        raw = self.look_up(task_id)
        if isinstance(raw, Reply):
            return raw
        status = raw.get("status")
        flag = {"SUCCESS": 1, "FAILURE": 3}.get(str(status), 0)
        task = self.task(task_id)
        data: dict[str, Any] = {
            "taskId": task_id,
            "taskType": _task_type(raw, task.properties if task else {}),
            "paramJson": json.dumps({"prompt": raw.get("prompt") or ""}, ensure_ascii=False),
            "createTime": raw.get("submitTime"),
            "completeTime": raw.get("finishTime"),
            "resultInfoJson": None,
            "successFlag": flag,
            "errorCode": None,
            "errorMessage": None,
        }
        if flag == 1:
            urls = [v["url"] for v in raw.get("videoUrls") or () if isinstance(v, dict)]
            data["resultInfoJson"] = {"resultUrls": [{"resultUrl": u} for u in urls]}
        if flag == 3:
            data["errorMessage"] = raw.get("failReason") or "generation failed"
        return json_reply(200, {"code": 200, "msg": "success", "data": data})


def _page(status: int, text: str, reply: Reply) -> Reply:
    """A proxy's HTML error page (not Kie's JSON)."""
    body = f"<html><body><h1>{status} {text}</h1></body></html>".encode()
    return Reply(status, body, "text/html", reply.headers, reply.drop)


def _task_type(raw: dict[str, Any], properties: dict[str, Any]) -> str:
    if raw.get("action") == "EXTEND":
        return "mj_video_extend_manual"
    return "mj_video_hd" if properties.get("videoType") == "vid_1.1_i2v_720" else "mj_video"


def _prompt(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("prompt is required")
    if len(value) > MAX_PROMPT:
        raise BadRequest(f"prompt is longer than {MAX_PROMPT} characters")
    return value


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))
