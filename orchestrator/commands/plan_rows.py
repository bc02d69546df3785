"""One plan row as JSON text, fast: the bytes the C encoder gives ``_row_json``, sorted keys.

`mjv plan --format json` of 100,000 jobs spent most of its time turning each row into a dict
and encoding, again for every row, the images and settings that thousands of rows share.
Here shared pieces are encoded once and each row is one f-string. ``test_plan_stream`` holds
the text to ``json.dumps(plan_to_json(plan), sort_keys=True)``: a key added to ``_row_json``
must be added here too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from typing import Any

from orchestrator.model import AwaitingStep, Extension, Job
from orchestrator.plan import PlanRow

_text: Callable[[str], str] = encode_basestring  # the C function json uses (ensure_ascii=False)
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def row_text(row: PlanRow, shared: dict[Any, str], piece: Callable[[Any], Any]) -> str:
    """The JSON of ``row``; ``piece(thing)`` is the JSON data of a shared image or settings,
    encoded once per object into ``shared`` (which also keeps the text of what many rows have
    in common: a cost, an extension step's fields but its fingerprint)."""
    damaged = _texts(row.damaged) if row.damaged else "[]"
    why = _texts(row.why) if row.why else "[]"
    job = row.job
    if job is None:
        return (
            f'{{"cost": {_cost(row)}, "damaged": {damaged}, '
            f'"fingerprint": {_text(row.fingerprint)}, "name": {_text(row.name)}, '
            f'"seconds": {row.seconds!r}, "status": {_text(row.status)}, '
            f'"submissions": {row.video_submissions}, "why": {why}}}'
        )
    # One f-string and few calls: this runs once per job of plans of 100,000 jobs.
    end = "null" if job.end_image is None else _shared(job.end_image, shared, piece)
    image = shared.get(id(job.image)) or _shared(job.image, shared, piece)
    waiting = _waiting(job.awaiting) if job.awaiting else ""
    steps = job.extensions
    if len(steps) == 1:  # the common case, without a list and a join
        listed = _step(steps[0], shared)
    else:
        listed = ", ".join([_step(step, shared) for step in steps])
    return (
        f'{{"cost": {_shared_cost(row, shared)}, "damaged": {damaged}, "end_image": {end}, '
        f'"extensions": [{listed}], '
        f'"fingerprint": {_text(row.fingerprint)}, "image": {image}, '
        f'"key": {_text(job.fingerprint[:32])}, "name": {_text(row.name)}, '
        f'"output": {_text(job.output_name)}, {_middle(row, job, shared, piece)}'
        f'"take": {job.take}, {waiting}"why": {why}}}'
    )


def _middle(row: PlanRow, job: Job, shared: dict[Any, str], piece: Callable[[Any], Any]) -> str:
    """The fields from ``prompt`` to ``submissions``, made once for the rows that share them
    (the takes and images of one prompt and matrix row)."""
    share = _shareable(row.seconds)
    key = (job.prompt, job.prompt_name, row.seconds, id(job.settings), row.status,
           row.video_submissions)  # fmt: skip
    found = shared.get(key) if share else None
    if found is None:
        settings = _shared(job.settings, shared, piece)
        found = (
            f'"prompt": {_maybe(job.prompt)}, "prompt_name": {_maybe(job.prompt_name)}, '
            f'"seconds": {row.seconds!r}, "settings": {settings}, '
            f'"status": {_text(row.status)}, "submissions": {row.video_submissions}, '
        )
        if share:
            shared[key] = found
    return found


def _shared_cost(row: PlanRow, shared: dict[Any, str]) -> str:
    """``_cost(row)``, made once per (known cost, unpriced) pair."""
    if not _shareable(row.known_cost) or type(row.unpriced) is not int:
        return _cost(row)
    key = (row.known_cost, row.unpriced)
    found = shared.get(key)
    if found is None:
        found = shared[key] = _cost(row)
    return found


def _shareable(number: float) -> bool:
    """Whether equal numbers have equal JSON: not 0.0 and -0.0, nor 5 and 5.0."""
    return type(number) is float and number != 0.0


def _cost(row: PlanRow) -> str:
    """The row's cost (issue 17): its total (null when a price is unknown), known part and
    number of unpriced submissions."""
    known, unpriced = row.known_cost, row.unpriced
    if type(known) is float and math.isfinite(known) and type(unpriced) is int:  # as json does
        text = repr(known)
        total = "null" if unpriced else text
        return f'{{"known": {text}, "total": {total}, "unpriced": {unpriced!r}}}'
    return _ENCODER.encode({"total": row.cost, "known": known, "unpriced": unpriced})


def _step(step: Extension, shared: dict[Any, str] | None = None) -> str:
    """One extension step; all but its fingerprint made once per (step, index, motion, prompt)
    when ``shared`` is given (the jobs of an entry share them)."""
    key = (step.step, step.index, step.motion, step.prompt)
    rest = None if shared is None else shared.get(key)
    if rest is None:
        rest = (
            f'"index": {step.index}, "motion": {_text(step.motion)}, '
            f'"prompt": {"null" if step.prompt is None else _text(step.prompt)}, '
            f'"step": {step.step}}}'
        )
        if shared is not None:
            shared[key] = rest
    return f'{{"fingerprint": {_text(step.fingerprint)}, {rest}'


def _waiting(steps: Sequence[AwaitingStep]) -> str:
    """Steps awaiting a review (``index: approved``); the key only when there are some."""
    if not steps:
        return ""
    listed = ", ".join(
        f'{{"index": {"null" if s.index is None else s.index}, "motion": {_text(s.motion)}, '
        f'"prompt": {_maybe(s.prompt)}, "step": {s.step}}}'
        for s in steps
    )
    return f'"waiting": [{listed}], '


def _shared(thing: object, shared: dict[Any, str], piece: Callable[[Any], Any]) -> str:
    """Encoded once per object (the plan keeps every job alive, so ids are not reused)."""
    found = shared.get(id(thing))
    if found is None:
        found = shared[id(thing)] = _ENCODER.encode(piece(thing))
    return found


def _maybe(text: str | None) -> str:
    return "null" if text is None else _text(text)


def _texts(texts: Sequence[str]) -> str:
    return f"[{', '.join(map(_text, texts))}]" if texts else "[]"
