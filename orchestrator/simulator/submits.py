"""Validation of the simulator's submits: each builds a task or raises a refused envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.simulator.tasks import VIDEO_ACTIONS, SimTask, TaskBook, button_ids

MOTIONS = frozenset({"low", "high"})
VIDEO_TYPES = frozenset({"vid_1.1_i2v_480", "vid_1.1_i2v_720"})
HD_VIDEO = "vid_1.1_i2v_720"
BATCH_SIZES = frozenset({1, 2, 4})
MAX_EXTENSIONS = 4
MAX_STATE = 255
NO_ACCOUNT = "无可用的账号实例"  # trueai TaskService.cs
EMPTY_PROMPT = "Prompt 不能为空"  # trueai SubmitController.Video()
STATE_TOO_LONG = "State参数过长，最大255字符"


class Refusal(Exception):
    """A submit the provider refuses: an envelope code, or (``logic``) trueai's success:false."""

    def __init__(self, code: int, description: str, logic: bool = False, **properties: Any):
        super().__init__(description)
        self.code = code
        self.description = description
        self.logic = logic
        self.properties = properties


def video_task(book: TaskBook, body: Mapping[str, Any], now: float, mode: str, hd: bool) -> SimTask:
    """Build the task of a create (or, with ``action: extend``, an extend) submit."""
    _check_state(body)
    prompt = _prompt(body)
    if body.get("action") == "extend":
        return _extend_task(book, body, now, prompt)
    image = body.get("image")
    _require(
        isinstance(image, str) and image.startswith("http"), "image: a start frame URL is required"
    )
    _require(body.get("motion", "low") in MOTIONS, "motion must be low or high")
    _require(body.get("videoType", "vid_1.1_i2v_480") in VIDEO_TYPES, "videoType is not supported")
    batch = _batch(body)
    is_hd = body.get("videoType") == HD_VIDEO
    _require(not (is_hd and mode == "relax"), "HD video is not available in relax mode")
    if is_hd and not hd:
        raise Refusal(3, NO_ACCOUNT)
    state = str(body.get("state") or "")
    task = SimTask(book.new_id(), "VIDEO", prompt, state, now, batch=batch, mode=mode)
    task.properties["videoType"] = HD_VIDEO if is_hd else "vid_1.1_i2v_480"
    task.image = str(image)
    end = body.get("endImage")
    task.end_image = end if isinstance(end, str) else ""
    task.loop = body.get("loop") is True
    return task


def _prompt(body: Mapping[str, Any]) -> str:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Refusal(4, EMPTY_PROMPT)
    return prompt


def _batch(body: Mapping[str, Any]) -> int:
    batch = body.get("batchSize", 4)  # SubmitVideoDTO.BatchSize = 4: absent means four clips
    _require(batch in BATCH_SIZES and not isinstance(batch, bool), "batchSize must be 1, 2 or 4")
    return int(batch)


def _extend_task(book: TaskBook, body: Mapping[str, Any], now: float, prompt: str) -> SimTask:
    parent = book.get(str(body.get("taskId") or ""))
    if parent is None:
        raise Refusal(3, "parent task not found")
    _require(parent.action in VIDEO_ACTIONS, "parent task is not a video")
    _require(book.status(parent, now)[0] == "SUCCESS", "parent task is not SUCCESS")
    _require(
        parent.depth < MAX_EXTENSIONS, f"a video can be extended at most {MAX_EXTENSIONS} times"
    )
    index = body.get("index")
    _require(
        isinstance(index, int) and 0 <= index < parent.batch, "index is outside the parent's batch"
    )
    _require(body.get("motion", "low") in MOTIONS, "motion must be low or high")
    batch = _batch(body)
    state = str(body.get("state") or "")
    task = SimTask(
        book.new_id(), "EXTEND", prompt, state, now, batch, parent.depth + 1, parent=parent.id
    )
    if "videoType" in parent.properties:  # an extension keeps its parent's resolution
        task.properties["videoType"] = parent.properties["videoType"]
    return task


def imagine_task(
    book: TaskBook, body: Mapping[str, Any], now: float, banned: tuple[str, ...]
) -> SimTask:
    """Build the task of an imagine submit (a 2x2 grid)."""
    _check_state(body)
    prompt = body.get("prompt")
    _require(isinstance(prompt, str) and bool(prompt.strip()), "prompt is required")
    _check_banned(str(prompt), banned)
    return SimTask(book.new_id(), "IMAGINE", str(prompt), str(body.get("state") or ""), now)


def action_task(book: TaskBook, body: Mapping[str, Any], now: float) -> SimTask:
    """Build the task a button press makes: an upscale, or a zoom that waits for a modal."""
    _check_state(body)
    custom_id = str(body.get("customId") or "")
    parent = book.get(str(body.get("taskId") or ""))
    if parent is None:
        raise Refusal(3, "parent task not found")
    _require(book.status(parent, now)[0] == "SUCCESS", "parent task is not SUCCESS")
    state = str(body.get("state") or "")
    if custom_id not in button_ids(parent):
        raise Refusal(4, f"customId is not a button of task {parent.id}")
    if custom_id.startswith("MJ::JOB::upsample::"):
        return SimTask(book.new_id(), "UPSCALE", parent.prompt, state, now, parent=parent.id)
    if custom_id.startswith("MJ::CustomZoom::"):
        return SimTask(book.new_id(), "ZOOM", parent.prompt, state, now, modal=True)
    raise Refusal(4, "the simulator does not implement this button")


def answer_modal(book: TaskBook, body: Mapping[str, Any], now: float) -> SimTask:
    """Answer a task waiting in MODAL: it takes the prompt and joins the queue."""
    task = book.get(str(body.get("taskId") or ""))
    if task is None:
        raise Refusal(3, "task not found")
    _require(task.modal, "task is not waiting for a modal")
    _require(bool(str(body.get("prompt") or "").strip()), "prompt is required")
    task.prompt = str(body["prompt"])
    book.enqueue(task, now)
    return task


def banned_word(prompt: str, banned: tuple[str, ...]) -> str | None:
    """Return the first banned word the prompt contains (case-insensitive), or None."""
    lowered = prompt.lower()
    return next((word for word in banned if word.lower() in lowered), None)


def _check_banned(prompt: str, banned: tuple[str, ...]) -> None:
    word = banned_word(prompt, banned)
    if word is not None:
        raise Refusal(24, "Banned prompt", bannedWord=word, promptEn=prompt)


def _check_state(body: Mapping[str, Any]) -> None:
    if len(str(body.get("state") or "")) > MAX_STATE:
        raise Refusal(-1, STATE_TOO_LONG, logic=True)


def _require(condition: bool, description: str) -> None:
    if not condition:
        raise Refusal(4, description)
