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

from orchestrator.model import AwaitingStep, Extension
from orchestrator.plan import PlanRow

_text: Callable[[str], str] = encode_basestring  # the C function json uses (ensure_ascii=False)
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def row_text(row: PlanRow, shared: dict[int, str], piece: Callable[[Any], Any]) -> str:
    """The JSON of ``row``; ``piece(thing)`` is the JSON data of a shared image or settings,
    encoded once per object into ``shared``."""
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
    settings = shared.get(id(job.settings)) or _shared(job.settings, shared, piece)
    prompt = "null" if job.prompt is None else _text(job.prompt)
    prompt_name = "null" if job.prompt_name is None else _text(job.prompt_name)
    waiting = _waiting(job.awaiting) if job.awaiting else ""
    return (
        f'{{"cost": {_cost(row)}, "damaged": {damaged}, "end_image": {end}, '
        f'"extensions": [{", ".join(map(_step, job.extensions))}], '
        f'"fingerprint": {_text(row.fingerprint)}, "image": {image}, '
        f'"key": {_text(job.key)}, "name": {_text(row.name)}, '
        f'"output": {_text(job.output_name)}, "prompt": {prompt}, '
        f'"prompt_name": {prompt_name}, "seconds": {row.seconds!r}, '
        f'"settings": {settings}, "status": {_text(row.status)}, '
        f'"submissions": {row.video_submissions}, "take": {job.take}, '
        f'{waiting}"why": {why}}}'
    )


def _cost(row: PlanRow) -> str:
    """The row's cost (issue 17): its total (null when a price is unknown), known part and
    number of unpriced submissions."""
    known, unpriced = row.known_cost, row.unpriced
    if type(known) is float and math.isfinite(known) and type(unpriced) is int:  # as json does
        text = repr(known)
        total = "null" if unpriced else text
        return f'{{"known": {text}, "total": {total}, "unpriced": {unpriced!r}}}'
    return _ENCODER.encode({"total": row.cost, "known": known, "unpriced": unpriced})


def _step(step: Extension) -> str:
    return (
        f'{{"fingerprint": {_text(step.fingerprint)}, "index": {step.index}, '
        f'"motion": {_text(step.motion)}, '
        f'"prompt": {"null" if step.prompt is None else _text(step.prompt)}, "step": {step.step}}}'
    )


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


def _shared(thing: object, shared: dict[int, str], piece: Callable[[Any], Any]) -> str:
    """Encoded once per object (the plan keeps every job alive, so ids are not reused)."""
    found = shared.get(id(thing))
    if found is None:
        found = shared[id(thing)] = _ENCODER.encode(piece(thing))
    return found


def _maybe(text: str | None) -> str:
    return "null" if text is None else _text(text)


def _texts(texts: Sequence[str]) -> str:
    return f"[{', '.join(map(_text, texts))}]" if texts else "[]"
