"""Kie.ai (PROVIDERS.md section 4): wire bodies, task records and error mapping, and the adapter.

SD (``mj_video``) or HD (``mj_video_hd``) from one start image URL, extension by the original
video record's id; polled at ``record-info``. ``motion`` defaults to high and the batch size
is undocumented, so both are always sent. Errors may come with HTTP 200 and a ``code`` in the
body; refunds on failure are not documented, so a failed task is not counted as refunded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from orchestrator.client import Client
from orchestrator.errors import (
    AuthenticationError,
    BannedPromptError,
    InvalidRequestError,
    ProviderError,
    QuotaError,
    RateLimitedError,
    ServerError,
    SubmitOutcomeUnknownError,
    TaskNotFoundError,
)
from orchestrator.provider import OnSend
from orchestrator.providers.unsupported import Unsupported
from orchestrator.wire import (
    HD_VIDEO,
    ExtendRequest,
    Task,
    VideoRequest,
    failure_kind,
    parse_retry_after,
)

NAME = "kie"
CREATE_PATH = "/api/v1/mj/generate"
EXTEND_PATH = "/api/v1/mj/generateVideoExtend"
RECORD_PATH = "/api/v1/mj/record-info?taskId={}"
_FLAGS = {0: "IN_PROGRESS", 1: "SUCCESS", 2: "FAILURE", 3: "FAILURE"}


def video_body(req: VideoRequest) -> dict[str, Any]:
    """The JSON body of a create: type, the one image, and motion and batch size explicitly."""
    s = req.settings
    return {
        "taskType": "mj_video_hd" if s.video_type == HD_VIDEO else "mj_video",
        "prompt": req.prompt or "",
        "fileUrls": [req.image],
        "motion": s.motion,
        "videoBatchSize": s.batch_size,
        "enableTranslation": False,
    }


def extend_body(req: ExtendRequest) -> dict[str, Any]:
    """The JSON body of an extension of clip ``index`` of the original video record."""
    body: dict[str, Any] = {
        "taskType": "mj_video_extend_auto" if req.auto else "mj_video_extend_manual",
        "taskId": req.task_id,
        "index": req.index,
    }
    if not req.auto:
        body["prompt"] = req.prompt
    return body


def submitted_id(body: Any) -> str:
    """``data.taskId`` of an accepted submit, or the error its ``code`` means."""
    if not isinstance(body, Mapping) or not isinstance(body.get("code"), int):
        raise SubmitOutcomeUnknownError(f"unreadable {NAME} submit answer: {str(body)[:200]}")
    if body["code"] != 200:
        raise error_of(body["code"], body, None, True)
    data = body.get("data")
    task_id = data.get("taskId") if isinstance(data, Mapping) else None
    if not isinstance(task_id, str) or not task_id:
        raise SubmitOutcomeUnknownError(f"{NAME} accepted a submit without a taskId")
    return task_id


def parse_record(body: Any) -> Task:
    """A ``record-info`` answer as mjv's Task (status from ``successFlag``)."""
    if isinstance(body, Mapping) and isinstance(body.get("code"), int) and body["code"] != 200:
        raise error_of(body["code"], body, None, False)
    data = body.get("data") if isinstance(body, Mapping) else None
    if isinstance(body, Mapping) and body.get("code") == 200 and data is None:
        raise TaskNotFoundError(f"{NAME} has no such record ({str(body)[:200]})")
    if not isinstance(data, Mapping) or not data.get("taskId"):
        raise ServerError(f"malformed {NAME} record: {str(body)[:200]}")
    flag = data.get("successFlag")
    if flag not in _FLAGS:
        raise ServerError(f"{NAME} task {data['taskId']} has an unknown successFlag {flag!r}")
    status = _FLAGS[flag]
    reason = data.get("errorMessage") or data.get("errorCode")
    if status == "FAILURE" and not reason:
        reason = "Task generation failed" if flag == 2 else "generation failed"
    return Task(
        id=str(data["taskId"]),
        action=str(data.get("taskType") or ""),
        status=status,
        progress="100%" if flag == 1 else "",
        fail_reason=str(reason) if status == "FAILURE" else None,
        state=None,
        image_url=None,
        clip_urls=_result_urls(data.get("resultInfoJson")),
        buttons=(),
        properties={"refunded": False},
    )


def _result_urls(info: Any) -> tuple[str, ...]:
    items = info.get("resultUrls") if isinstance(info, Mapping) else None
    urls = (i.get("resultUrl") for i in items or () if isinstance(i, Mapping))
    return tuple(u for u in urls if isinstance(u, str) and u)


def error_of(code: int, body: Any, retry_after: str | None, submit: bool) -> ProviderError:
    """Map a Kie error (HTTP status, or ``code`` in a 200 body) to mjv's error."""
    text = str(body.get("msg") or "") if isinstance(body, Mapping) else str(body or "")
    where = f"{NAME} code {code}: {text[:200] or 'no details'}"
    if code == 401:
        return AuthenticationError(f"authentication failed, check MJV_KIE_API_KEY ({where})")
    if code == 402:
        return QuotaError(f"credits exhausted ({where})")
    if code == 404:
        return TaskNotFoundError(f"task not found ({where})")
    if code == 429:
        return RateLimitedError(f"rate limited ({where})", parse_retry_after(retry_after))
    if code in (400, 422) and failure_kind(text) == "moderation":
        return BannedPromptError(f"refused by moderation ({where})")
    if code in (400, 422, 505):  # 505: feature disabled [INFERENCE]
        return InvalidRequestError(f"request refused ({where})")
    if submit and code in (504, 524):  # a gateway timeout may come after the upstream took it
        return SubmitOutcomeUnknownError(f"gateway timed out during a submit ({where})")
    return ServerError(f"provider error ({where})")  # 455, 500, 501: unavailable or failed


class KieProvider(Unsupported):
    """The Provider protocol over Kie's MJ video routes, on the shared HTTP client."""

    name = NAME

    def __init__(self, http: Client) -> None:
        self.http = http

    async def create_video(self, req: VideoRequest, on_send: OnSend | None = None) -> str:
        """Submit a video job; return its task id."""
        body = video_body(req)
        return submitted_id(await self._post(CREATE_PATH, body, on_send))

    async def extend_video(self, req: ExtendRequest, on_send: OnSend | None = None) -> str:
        """Extend clip ``index`` of a finished video record; return the new task id."""
        return submitted_id(await self._post(EXTEND_PATH, extend_body(req), on_send))

    async def fetch_task(self, task_id: str) -> Task:
        """Fetch one task record."""
        return parse_record(
            await self.http.call("GET", RECORD_PATH.format(quote(task_id, safe="")))
        )

    async def _post(self, path: str, body: dict[str, Any], on_send: OnSend | None) -> Any:
        return await self.http.call("POST", path, body, submit=True, on_send=on_send)
