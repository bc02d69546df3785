"""The report document: one HTML file with inline CSS and JS, nothing fetched from the network."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from importlib import resources

from orchestrator.model import JobStatus
from orchestrator.qc.report import SORTS as SCORE_SORTS
from orchestrator.report.card import esc, render_card
from orchestrator.report.view import Page

# Only inline code, and media from the report's own folder: a spec text cannot load anything.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src 'self' file:; media-src 'self' file:; base-uri 'none'; form-action 'none'"
)
SORTS = ("name", "status", "cost", *SCORE_SORTS)
CHECKS_FILTER = (
    '<label>Checks <select id="checks"><option value="">all</option>'
    '<option value="passed">passed</option><option value="failed">failed</option></select></label>'
)
# A job's status in the manifest.
STATUSES = (JobStatus.DONE, JobStatus.INCOMPLETE, JobStatus.FAILED, JobStatus.NEW)
VERDICT_FILTERS = ("approved", "rejected", "unreviewed")
STAR = "\u2605"
BODY_LIVE = ' class="live"'
KEYS = (
    '<p class="keys">keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous clip · <kbd>a</kbd> approve · '
    "<kbd>x</kbd> reject · <kbd>u</kbd> unreview · <kbd>1</kbd>-<kbd>5</kbd> stars "
    "(<kbd>0</kbd> none) · <kbd>n</kbd> note · <kbd>p</kbd> or space play/pause "
    '<output id="saving" class="saving"></output></p>'
)


@functools.cache
def asset(name: str) -> str:
    """The text of a file in the report package's assets folder (CSS, JS)."""
    return (resources.files("orchestrator.report") / "assets" / name).read_text(encoding="utf-8")


def render_report(page: Page) -> str:
    """The whole report page of ``page`` as one HTML string."""
    return "".join(report_chunks(page))


def report_chunks(page: Page) -> Iterator[str]:
    """The report page piece by piece: its head, one card at a time, its end.

    A page with a token is the live review page of `mjv review`: the same report, with
    working review controls that write to its own server (and nowhere else).
    """
    live = page.token is not None
    csp = CSP + ("; connect-src 'self'" if live else "")
    token = f'<meta name="mjv-token" content="{esc(page.token)}">' if live else ""
    title = "mjv review" if live else "mjv report"
    yield (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">{token}'
        f"<title>{esc(page.campaign)}: {title}</title><style>{asset('report.css')}</style>"
        f"</head><body{BODY_LIVE if live else ''}>{_header(page)}"
        '<main id="cards" class="cards">\n'
    )
    for number, card in enumerate(page.cards):
        yield ("\n" if number else "") + render_card(card, page.axes, live)
    empty = '<p class="empty">This campaign has no jobs.</p>' if not len(page.cards) else ""
    script = asset("report.js") + (asset("review.js") if live else "")
    yield f"\n</main>{empty}<script>{script}</script></body></html>\n"


def _header(page: Page) -> str:
    totals = " · ".join(
        f'<span data-total="{esc(name)}">{esc(name)} <b>{esc(value)}</b></span>'
        for name, value in page.totals
    )
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
    parts.append(CHECKS_FILTER)
    sorts = "".join(f'<option value="{name}">{_sort_label(name)}</option>' for name in SORTS)
    parts.append(f'<label>Sort <select id="sort">{sorts}</select></label>')
    parts.append('<label><input type="checkbox" id="group"> takes side by side</label>')
    parts.append(_verdict_filters())
    if page.token is not None:
        parts.append(KEYS)
    parts.append(f'<output id="shown">{count} of {count} jobs</output>')
    return "".join(parts)


def _verdict_filters() -> str:
    verdicts = "".join(f'<option value="{v}">{v}</option>' for v in VERDICT_FILTERS)
    stars = "".join(f'<option value="{n}">{STAR * n} or more</option>' for n in range(1, 6))
    return (
        f'<label>Clips <select id="verdict"><option value="">all</option>{verdicts}</select>'
        f'</label><label>Stars <select id="stars"><option value="">any</option>{stars}</select>'
        "</label>"
    )


def _sort_label(name: str) -> str:
    return f"lowest {name[6:].replace('_', ' ')}" if name.startswith("score:") else name


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
