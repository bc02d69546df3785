"""A clip's verdict on the report: read-only on report.html, controls on the review page."""

from __future__ import annotations

import html

from orchestrator.model import Job, JobStatus
from orchestrator.report.view import ClipView, StepView

STAR = "\u2605"
WAITING = str(JobStatus.WAITING)


def verdict_block(clip: ClipView, live: bool) -> str:
    """The verdict, stars and note of ``clip``; with ``live``, the controls that change them."""
    return _controls(clip) if live else _shown(clip)


def _shown(clip: ClipView) -> str:
    if clip.verdict is None and not clip.stars and not clip.note:
        return ""
    verdict = clip.verdict or "unreviewed"
    stars = f' <span class="stars-now">{STAR * clip.stars}</span>' if clip.stars else ""
    note = f' <q class="note-now">{_esc(clip.note)}</q>' if clip.note else ""
    return f'<p class="verdict verdict-{verdict}"><b>{verdict}</b>{stars}{note}</p>'


_CHOICES = (("approved", "a", "\u2713 approve"), ("rejected", "x", "\u2717 reject"))


def _controls(clip: ClipView) -> str:
    buttons = "".join(
        f'<button type="button" data-verdict="{name}" aria-pressed="{_on(clip.verdict == name)}"'
        f' title="{name} ({key})">{label}</button>'
        for name, key, label in _CHOICES
    )
    return f'<div class="review">{buttons}</div>'


def rating_controls(clip: ClipView, live: bool) -> str:
    """Stars and note inputs of the review page, made with the clip's video when it nears
    the screen (thousands of inputs parse slowly); empty on report.html."""
    if not live:
        return ""
    stars = "".join(
        f'<button type="button" class="star" data-set-stars="{n}" '
        f'aria-pressed="{_on((clip.stars or 0) >= n)}" title="{n} stars ({n})">{STAR}</button>'
        for n in range(1, 6)
    )
    note = f'<input class="note" data-note placeholder="note" value="{_esc(clip.note or "")}">'
    return f'<div class="rating"><span class="stars">{stars}</span>{note}</div>'


def _on(flag: bool) -> str:
    return "true" if flag else "false"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)  # as card.esc, which imports this module


def waiting_steps(job: Job | None) -> tuple[StepView, ...]:
    """The steps of ``job`` that wait for an approved clip, shown without clips."""
    if job is None:
        return ()
    return tuple(
        StepView(w.step, w.prompt, w.motion, -1 if w.index is None else w.index, WAITING, ())
        for w in job.awaiting
    )
