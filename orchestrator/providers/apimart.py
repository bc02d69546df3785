"""APIMart (PROVIDERS.md section 3): wire bodies, task objects and error mapping, and the adapter.

Video only, fixed FAST, no extend; polled at the MJ-style ``GET /v1/midjourney/{id}`` whose
answer is the documented SUCCESS example. ``motion`` defaults to high and ``batch_size`` to 1
there, so both, and ``video_type``, are always sent.
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
from orchestrator.wire import HD_VIDEO, ExtendRequest, Task, VideoRequest, parse_retry_after

NAME = "apimart"
CREATE_PATH = "/v1/midjourney/generations/video"
TASK_PATH = "/v1/midjourney/{}"
STATUSES = frozenset({"NOT_START", "SUBMITTED", "IN_PROGRESS", "MODAL", "SUCCESS", "FAILURE"})
_SUBMIT_CODES = {4: "validation error", 3: "not found", 9: "failure", 21: "modal"}


def video_type(req: VideoRequest) -> str:
    """The ``video_type`` sent: resolution, and start/end when an end frame is given."""
    size = "720" if req.settings.video_type == HD_VIDEO else "480"
    return f"vid_1.1_i2v_{'start_end_' if req.end_image else ''}{size}"


def video_body(req: VideoRequest) -> dict[str, Any]:
    """The JSON body of a create: every field whose default differs from mjv's is sent."""
    s = req.settings
    body: dict[str, Any] = {
        "image_urls": [req.image],
        "video_type": video_type(req),
        "animate_mode": s.animate,
        "motion": s.motion,
        "batch_size": s.batch_size,
    }
    if req.prompt:
        body["prompt"] = req.prompt
    if req.end_image:
        body["end_url"] = req.end_image
    return body


def submitted_id(body: Any) -> str:
    """The task id of an accepted create (``data[0].task_id``), or the error its code means."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        raise error_of(int(body["error"].get("code") or 0), body, None, True)
    code = body.get("code") if isinstance(body, Mapping) else None
    data = body.get("data") if isinstance(body, Mapping) else None
    if code in (1, 200) and isinstance(data, list) and data and isinstance(data[0], Mapping):
        task_id = data[0].get("task_id")
        if isinstance(task_id, str) and task_id:
            return task_id
    if code in _SUBMIT_CODES or code == 24:
        raise _business_error(int(code), body)
    raise SubmitOutcomeUnknownError(f"unreadable {NAME} submit answer: {str(body)[:200]}")


def parse_task(raw: Any) -> Task:
    """An MJ-style task object (bare, or inside ``{"code", "data"}``) as mjv's Task."""
    if isinstance(raw, Mapping) and isinstance(raw.get("data"), Mapping) and "id" not in raw:
        raw = raw["data"]
    if not isinstance(raw, Mapping) or not raw.get("id"):
        raise ServerError(f"malformed {NAME} task object: {str(raw)[:200]}")
    status = str(raw.get("status") or "")
    if status not in STATUSES:
        raise ServerError(f"{NAME} task {raw['id']} has an unknown status {status!r}")
    urls = [u for u in raw.get("video_urls") or () if isinstance(u, str) and u]
    if not urls and isinstance(raw.get("video_url"), str) and raw["video_url"]:
        urls = [raw["video_url"]]
    return Task(
        id=str(raw["id"]),
        action=str(raw.get("action") or "VIDEO"),
        status=status,
        progress=str(raw.get("progress") or ""),
        fail_reason=str(raw["fail_reason"]) if raw.get("fail_reason") else None,
        state=None,
        image_url=None,
        clip_urls=tuple(urls),
        buttons=(),
    )


def error_of(status: int, body: Any, retry_after: str | None, submit: bool) -> ProviderError:
    """Map an APIMart error answer (``{"error": {code, message, type}}``) to mjv's error."""
    err = body.get("error") if isinstance(body, Mapping) else None
    err = err if isinstance(err, Mapping) else {}
    kind, text = str(err.get("type") or ""), str(err.get("message") or body or "")[:200]
    where = f"{NAME} HTTP {status} {kind}: {text or 'no details'}"
    if status == 401 or kind == "authentication_error":
        return AuthenticationError(f"authentication failed, check MJV_APIMART_API_KEY ({where})")
    if status == 402 or kind == "payment_required":
        return QuotaError(f"account balance exhausted ({where})")
    if status == 403 or kind == "permission_error":
        return AuthenticationError(f"forbidden ({where})")
    if status == 404 or kind in ("not_found_error", "not_found"):
        return TaskNotFoundError(f"task not found ({where})")
    if status == 422:  # moderation, refunded at once: final, counted as banned, never charged
        return BannedPromptError(f"refused by moderation ({where})")
    if status == 429 or kind == "rate_limit_error":
        return RateLimitedError(f"rate limited ({where})", parse_retry_after(retry_after))
    if status == 400 or kind == "invalid_request_error":
        return InvalidRequestError(f"request refused ({where})")
    if submit and status in (504, 524):  # a gateway timeout may come after the upstream took it
        return SubmitOutcomeUnknownError(f"gateway timed out during a submit ({where})")
    return ServerError(f"provider error ({where})")


def _business_error(code: int, body: Mapping[str, Any]) -> ProviderError:
    text = str(body.get("message") or body.get("msg") or "")[:200]
    where = f"{NAME} code {code}: {text or _SUBMIT_CODES.get(code, 'banned prompt')}"
    if code == 24:
        return BannedPromptError(f"banned prompt ({where})")
    if code == 4:
        return InvalidRequestError(f"request refused ({where})")
    if code == 3:
        return TaskNotFoundError(f"not found ({where})")
    return ServerError(f"provider failure ({where})")


class ApimartProvider(Unsupported):
    """The Provider protocol over APIMart's video routes, on the shared HTTP client."""

    name = NAME

    def __init__(self, http: Client) -> None:
        self.http = http

    async def create_video(self, req: VideoRequest, on_send: OnSend | None = None) -> str:
        """Submit a video job; return its task id."""
        body = await self.http.call(
            "POST", CREATE_PATH, video_body(req), submit=True, on_send=on_send
        )
        return submitted_id(body)

    async def extend_video(self, req: ExtendRequest, on_send: OnSend | None = None) -> str:
        """APIMart has no extend route (PROVIDERS.md 3.3); the spec check refuses it first."""
        raise self.unsupported("extending a clip")

    async def fetch_task(self, task_id: str) -> Task:
        """Fetch one task object."""
        return parse_task(await self.http.call("GET", TASK_PATH.format(quote(task_id, safe=""))))
