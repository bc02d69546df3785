"""The report document: one HTML file with inline CSS and JS, nothing fetched from the network."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from importlib import resources

from orchestrator.model import JobStatus
from orchestrator.report.card import esc, render_card
from orchestrator.report.view import Page

# Only inline code, and media from the report's own folder: a spec text cannot load anything.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src 'self' file:; media-src 'self' file:"
)
SORTS = ("name", "status", "cost")
# A job's status in the manifest.
STATUSES = (JobStatus.DONE, JobStatus.INCOMPLETE, JobStatus.FAILED, JobStatus.NEW)


@functools.cache
def asset(name: str) -> str:
    """The text of a file in the report package's assets folder (CSS, JS)."""
    return (resources.files("orchestrator.report") / "assets" / name).read_text(encoding="utf-8")


def render_report(page: Page) -> str:
    """The whole report page of ``page`` as one HTML string."""
    return "".join(report_chunks(page))


def report_chunks(page: Page) -> Iterator[str]:
    """The report page piece by piece: its head, one card at a time, its end."""
    yield (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{esc(page.campaign)}: mjv report</title><style>{asset('report.css')}</style>"
        f'</head><body>{_header(page)}<main id="cards" class="cards">\n'
    )
    for number, card in enumerate(page.cards):
        yield ("\n" if number else "") + render_card(card, page.axes)
    empty = '<p class="empty">This campaign has no jobs.</p>' if not len(page.cards) else ""
    yield f"\n</main>{empty}<script>{asset('report.js')}</script></body></html>\n"


def _header(page: Page) -> str:
    totals = " · ".join(f"{esc(name)} <b>{esc(value)}</b>" for name, value in page.totals)
    return (
        f'<header class="top"><h1>{esc(page.campaign)}</h1>{_description(page.description)}'
        f'<p class="totals">{totals}</p>'
        f'<form id="controls" class="controls" autocomplete="off">{_controls(page)}</form>'
        "</header>"
    )


def _description(text: str) -> str:
    return f'<p class="description">{esc(text)}</p>' if text else ""


def _controls(page: Page) -> str:
    count, choices = len(page.cards), dict(page.choices)
    parts = [
        '<label>Search <input type="search" id="search" placeholder="name, prompt, value"></label>',
        _select("status", "Status", (*STATUSES, *choices.get("status", ()))),
        _select("image", "Image", choices.get("image", ())),
        _select("prompt", "Prompt", choices.get("prompt", ())),
    ]
    for i, axis in enumerate(page.axes):
        parts.append(_select(f"m{i}", axis, choices.get(f"m{i}", ())))
    sorts = "".join(f'<option value="{name}">{name}</option>' for name in SORTS)
    parts.append(f'<label>Sort <select id="sort">{sorts}</select></label>')
    parts.append('<label><input type="checkbox" id="group"> takes side by side</label>')
    parts.append(f'<output id="shown">{count} of {count} jobs</output>')
    return "".join(parts)


def _select(key: str, label: str, values: Iterable[str]) -> str:
    # "=" + value, so that an empty value (no prompt name) differs from "all"
    options = "".join(
        f'<option value="={esc(value)}">{esc(value or "(none)")}</option>'
        for value in sorted(set(values))
    )
    return (
        f'<label>{esc(label)} <select data-filter="{key}">'
        f'<option value="">all</option>{options}</select></label>'
    )
