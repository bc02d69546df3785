"""The provider's wire format: request bodies, task objects and error classification (no I/O)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from orchestrator.errors import (
    AccountBusyError,
    AccountLockedError,
    AuthenticationError,
    BannedPromptError,
    DrawLimitError,
    HdUnavailableError,
    IdempotencyConflictError,
    InvalidRequestError,
    MalformedAnswerError,
    NoAccountError,
    ProviderError,
    QueueFullError,
    QuotaError,
    RateLimitedError,
    RefusedError,
    RelayError,
    ServerError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
    TaskNotFoundError,
    UnusableAcceptanceError,
)
from orchestrator.model import Settings
from orchestrator.wirecheck import check_task_id
from orchestrator.wirecheck import redact as _redact

ACCEPTED_CODES = frozenset({1, 21, 22})
TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCEL"})
MODES = ("fast", "relax", "turbo")
HD_VIDEO = "vid_1.1_i2v_720"
MAX_RETRY_AFTER = 600.0  # seconds: the longest wait a Retry-After header can ask for
# failReason texts, checked in this order (API.md "Task object"): the start image could not be
# fetched (upload again), the content was refused (final, a banned prompt), the gateway gave
# up on a task after an hour (refunded; a new attempt may succeed).
_START_FRAME_REASONS = re.compile(r"no start frame|start frame .*(unreachable|invalid)", re.I)
_MODERATION_REASONS = re.compile(
    r"banned|denied|moderat|violat|nsfw|not allowed|blocked|policy|sensitive|敏感词|违规",
    re.IGNORECASE,
)
_TIMEOUT_REASONS = re.compile(r"上游任务超时|timed? ?out|超时", re.IGNORECASE)
# Code 9 texts that mean "queue full" (trueai sends queue full as a system error).
_QUEUE_FULL = re.compile(r"queue.*full|队列已满", re.IGNORECASE)
# HTTP 400 descriptions (new-api's RelayMidjourney): code 5 relay hiccups, never charged.
_RELAY_FAILURES = (
    "do_request_failed",
    "read_response_body_failed",
    "unmarshal_response_body_failed",
    "close_request_body_failed",
    "close_response_body_failed",
    "create_request_failed",
    "read_request_body_failed",
    "marshal_request_body_failed",
    "empty_response_body",
)
_QUOTA_TEXTS = ("quota_not_enough", "所余资金不足", "余额不足")
_ACCOUNT_LOCKED = re.compile(r"账号已被临时封锁|account .*(locked|suspended|banned)", re.I)
# trueai's NewTask checks of the user's limits (API.md "HTTP 200 that is a refusal").
_ACCOUNT_BUSY = {"并发数已达上限": "concurrency limit", "队列数已达上限": "queue limit"}
_DRAW_LIMITS = {
    "用户今日绘图次数已达上限": "daily draw limit",
    "总绘图次数已达上限": "total draw limit",
}
_MAX_TEXT = 200


@dataclass(frozen=True)
class VideoRequest:
    """One create-video submission."""

    image: str  # public URL of the start frame
    prompt: str | None  # rendered motion text (None with animate auto)
    settings: Settings
    end_image: str | None = None  # URL
    state: str = ""  # the job key; also sent as the Idempotency-Key header
    provider: str = "cometapi"  # the reseller that makes it (providers.PROVIDERS)


@dataclass(frozen=True)
class ExtendRequest:
    """One extension of clip ``index`` of a finished video task.

    ``prompt`` is the step's motion text, or for an automatic extension the previous step's
    prompt; ``batch_size`` is sent explicitly (absent, the upstream makes 4 clips).
    """

    task_id: str
    index: int
    motion: str
    prompt: str
    batch_size: int = 1
    mode: str = "fast"  # the job's speed mode: sent as the path prefix
    state: str = ""
    auto: bool = False  # an automatic extension (no prompt of its own in the spec)


@dataclass(frozen=True)
class Task:
    """A provider task object, normalised: string ids, clip URLs in fallback order."""

    id: str
    action: str
    status: str
    progress: str
    fail_reason: str | None
    state: str | None
    image_url: str | None
    clip_urls: tuple[str, ...]
    buttons: tuple[str, ...]
    properties: Mapping[str, Any] = field(default_factory=dict)
    submit_time: int | None = None
    finish_time: int | None = None

    @property
    def terminal(self) -> bool:
        """True once the task can no longer change (SUCCESS, FAILURE or CANCEL)."""
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        """True when the task finished with SUCCESS."""
        return self.status == "SUCCESS"

    @property
    def failed(self) -> bool:
        """True when the task ended in FAILURE or CANCEL."""
        return self.status in ("FAILURE", "CANCEL")

    @property
    def needs_modal(self) -> bool:
        """True when the task waits for an answer through the modal call."""
        return self.status == "MODAL"


def wire_prompt(image: str, text: str | None, settings: Settings) -> str:
    """Build the wire prompt: the image URL first, then the motion text, then style flags.

    An automatic animation sends the image URL alone (never an empty prompt: the upstream
    refuses that with code 4 ``Prompt 不能为空``).
    """
    parts = [image]
    if settings.animate != "auto" and text:
        parts.append(text.strip())
    if settings.raw:
        parts.append("--raw")
    return " ".join(parts)


def submit_path(route: str, mode: str) -> str:
    """The path of a submit route in ``mode``: the upstream reads the speed from the prefix."""
    if mode not in MODES:
        raise ValueError(f"unknown speed mode {mode!r}")
    return f"/mj-{mode}/mj/submit/{route}"


def video_body(req: VideoRequest) -> dict[str, Any]:
    """Return the JSON body of a create-video submission (the mode goes in the path)."""
    s = req.settings
    body: dict[str, Any] = {
        "prompt": wire_prompt(req.image, req.prompt, s),
        "image": req.image,
        "motion": s.motion,
        "videoType": s.video_type,
        "batchSize": s.batch_size,
        "loop": s.loop,
        "state": req.state,
    }
    if req.end_image:
        body["endImage"] = req.end_image
    return body


def extend_body(req: ExtendRequest) -> dict[str, Any]:
    """Return the JSON body of an extend submission: prompt and batch size always sent."""
    if not (req.prompt or "").strip():
        raise ValueError("an extension needs a prompt (an automatic one repeats the previous)")
    return {
        "action": "extend",
        "taskId": req.task_id,
        "index": req.index,
        "motion": req.motion,
        "prompt": req.prompt,
        "batchSize": req.batch_size,
        "state": req.state,
    }


def parse_task(raw: Any) -> Task:
    """Normalise one task object from fetch or list-by-condition."""
    if not isinstance(raw, Mapping) or raw.get("id") in (None, ""):
        raise ServerError(f"malformed task object from provider: {_short(raw)}")
    return Task(
        id=check_task_id(raw["id"]),
        action=str(raw.get("action") or ""),
        status=str(raw.get("status") or ""),
        progress=_progress(raw.get("progress")),
        fail_reason=_opt_str(raw.get("failReason")),
        state=_opt_str(raw.get("state")),
        image_url=_opt_str(raw.get("imageUrl")),
        clip_urls=clip_urls(raw),
        buttons=_buttons(raw.get("buttons")),
        properties=_mapping(raw.get("properties")),
        submit_time=_opt_int(raw.get("submitTime")),
        finish_time=_opt_int(raw.get("finishTime")),
    )


def parse_tasks(body: list[Any]) -> list[Task]:
    """The well-formed task objects of a list; a malformed one cannot be any of ours."""
    tasks = []
    for item in body:
        try:
            tasks.append(parse_task(item))
        except ServerError:
            continue
    return tasks


def accepted_task_id(result: str | list[str]) -> str:
    """The task id of an accepted submit: refused when malformed, as an unknown outcome (the
    submission was taken, maybe charged, but cannot be polled)."""
    first = result[0] if isinstance(result, list) else result
    try:
        return check_task_id(first, "task id of an accepted submit")
    except MalformedAnswerError as exc:
        raise UnusableAcceptanceError(str(exc)) from None


def clip_urls(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """Clip URLs of a task: ``videoUrls``, else ``videoUrl``, else ``imageUrl``."""
    urls: list[str] = []
    listed = raw.get("videoUrls")
    for item in listed if isinstance(listed, list) else ():
        url = item.get("url") if isinstance(item, Mapping) else item
        if isinstance(url, str) and url:
            urls.append(url)
    if urls:
        return tuple(urls)
    for name in ("videoUrl", "imageUrl"):
        if isinstance(raw.get(name), str) and raw[name]:
            return (raw[name],)
    return ()


def classify_failure(task: Task) -> TaskFailedError:
    """Turn a FAILURE (or CANCEL) task into an error whose ``kind`` says what can help."""
    reason = task.fail_reason or ("cancelled" if task.status == "CANCEL" else "no reason given")
    kind = failure_kind(reason)
    label = {
        "moderation": "refused by moderation (final)",
        "start_frame": "could not fetch its start image",
        "timeout": "timed out at the provider",
        "transient": "failed (transient)",
    }[kind]
    return TaskFailedError(f"task {task.id} {label}: {_short(reason)}", reason, kind)


def failure_kind(reason: str) -> str:
    """``start_frame``, ``moderation``, ``timeout`` or ``transient`` for a failReason text."""
    if _START_FRAME_REASONS.search(reason):
        return "start_frame"
    if _MODERATION_REASONS.search(reason):
        return "moderation"
    return "timeout" if _TIMEOUT_REASONS.search(reason) else "transient"


def envelope_result(body: Any, *, hd: bool = False) -> str | list[str]:
    """Return the ``result`` of an accepted submit envelope or raise the error its code means.

    ``hd`` says the request asked for an HD clip: code 3 then means this account has no HD.
    """
    if isinstance(body, Mapping) and body.get("success") is False:
        raise refusal_error(body)
    if not isinstance(body, Mapping) or not isinstance(body.get("code"), int):
        raise SubmitOutcomeUnknownError(f"unreadable submit answer: {_short(body)}")
    code, text = body["code"], str(body.get("description") or "").strip()
    result = body.get("result")
    if code in ACCEPTED_CODES and result not in (None, "", []):
        return [str(r) for r in result] if isinstance(result, list) else str(result)
    raise envelope_error(code, text, body.get("properties") or {}, hd=hd)


def refusal_error(body: Mapping[str, Any]) -> ProviderError:
    """trueai's HTTP 200 ``{"success": false, "message": ...}``: nothing accepted or charged."""
    message = _short(body.get("message") or body.get("description")) or "no message"
    if _ACCOUNT_LOCKED.search(message):
        return AccountLockedError(f"the provider account is locked: {message}")
    for text, limit in _ACCOUNT_BUSY.items():
        if text in message:
            return AccountBusyError(f"the account is at its {limit} ({message}); retrying later")
    for text, limit in _DRAW_LIMITS.items():
        if text in message:
            return DrawLimitError(
                f"the account reached its {limit} ({message}): nothing more can be sent "
                "until it is lifted"
            )
    return RefusedError(f"refused by the provider: {message}")


def envelope_error(
    code: int, text: str, props: Mapping[str, Any], *, hd: bool = False
) -> ProviderError:
    """Map a refused envelope code to its error class."""
    where = f"provider code {code}: {_short(text) or 'no description'}"
    if code == 23 or (code == 9 and _QUEUE_FULL.search(text)):
        return QueueFullError(f"queue full ({where})")
    if code == 24:
        word = _opt_str(props.get("bannedWord"))
        return BannedPromptError(f"banned prompt, word {word!r} ({where})", banned_word=word)
    if code == 3 and hd:
        return HdUnavailableError(f"this account cannot make HD clips ({where})")
    if code == 3:
        return NoAccountError(f"no available account or parent task ({where})")
    if code == 4:
        return InvalidRequestError(f"request refused ({where})")
    if code == 9:
        return ServerError(f"provider system error ({where})")
    return SubmitOutcomeUnknownError(f"unexpected answer ({where})")


def http_error(status: int, body: Any, retry_after: str | None, submit: bool) -> ProviderError:
    """Map a non-200 HTTP answer to its error class."""
    text = _error_text(body)
    where = f"HTTP {status}: {_short(text) or 'no details'}"
    if status in (401, 403):
        return AuthenticationError(f"authentication failed, check MJV_API_KEY ({where})")
    if status == 429:
        return RateLimitedError(f"rate limited ({where})", parse_retry_after(retry_after))
    if status == 400 or 404 <= status < 500:
        return _client_error(text, where, submit)
    # A gateway timeout may fire after the upstream accepted (and charged) the job.
    if submit and status in (504, 524):
        return SubmitOutcomeUnknownError(f"gateway timed out during a submit ({where})")
    return ServerError(f"provider error ({where})")


def _client_error(text: str, where: str, submit: bool) -> ProviderError:
    word = text.strip().lower()
    if any(quota in word for quota in _QUOTA_TEXTS):
        return QuotaError(f"account quota exhausted ({where})")
    if "task_not_found" in word or "task_no_found" in word:
        return TaskNotFoundError(f"task not found ({where})")
    if word.startswith(_RELAY_FAILURES):
        return RelayError(f"the gateway could not reach its upstream ({where})")
    if word.startswith("accepted_state_unknown") and submit:
        return SubmitOutcomeUnknownError(f"the gateway lost the upstream's answer ({where})")
    if word.startswith("idempotency_conflict"):
        return IdempotencyConflictError(f"the gateway is still processing this key ({where})")
    return InvalidRequestError(f"request refused ({where})")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # a provider cannot park a run for ever: days, "inf" and "nan" are capped or dropped
        return min(MAX_RETRY_AFTER, max(0.0, seconds)) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return min(MAX_RETRY_AFTER, max(0.0, (when - (now or datetime.now(UTC))).total_seconds()))


def redact(text: str, secret: str) -> str:
    """Remove ``secret`` (in any case, with or without its prefix), anything key-shaped and
    URL credentials from ``text`` (see ``orchestrator.wirecheck``)."""
    return _redact(text, secret)


def _error_text(body: Any) -> str:
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            return str(err.get("message") or "")
        return str(body.get("description") or body.get("message") or "")
    return str(body or "")


def _short(value: Any) -> str:
    text = " ".join(str(value if value is not None else "").split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _progress(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{int(value)}%"
    return str(value or "")


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _opt_int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _buttons(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else []
    return tuple(str(b["customId"]) for b in items if isinstance(b, Mapping) and b.get("customId"))
