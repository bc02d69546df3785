"""HTML of one job card; every text from the spec or manifest goes through ``esc``."""

from __future__ import annotations

import html
from collections.abc import Mapping

from orchestrator.money import shown
from orchestrator.qc.report import card_attributes, render_clip_qc
from orchestrator.report.verdict import rating_controls, verdict_block
from orchestrator.report.view import Card, ClipView, ImageView, StepView, VersionView

NO_CLIPS = '<p class="none">no clips yet</p>'


def esc(value: object) -> str:
    """Text escaped for HTML content and quoted attribute values."""
    return html.escape(str(value), quote=True)


def attrs(values: Mapping[str, object]) -> str:
    """` name="value"` pairs, values escaped (names are ours, never from the spec)."""
    return "".join(f' {name}="{esc(value)}"' for name, value in values.items())


def render_card(card: Card, axes: tuple[str, ...], live: bool = False) -> str:
    """One ``<article>`` with the data attributes the page's filters and sorting read."""
    matrix = dict(card.matrix)
    head = attrs(
        {
            "class": "card",
            "data-name": card.name,
            "data-status": card.status,
            "data-image": card.image.name,
            "data-prompt": card.prompt_name or "",
            "data-cost": "" if card.cost is None else card.cost,
            "data-group": card.group,
            "data-take": card.take,
            "data-search": _search_text(card),
            **{f"data-m{i}": matrix.get(axis, "") for i, axis in enumerate(axes)},
            **card_attributes(clip.qc for step in card.steps for clip in step.clips),
        }
    )
    body = [
        f'<header><h2>{esc(card.name)}</h2><span class="status status-{esc(card.status)}">'
        f"{esc(card.status)}</span></header>",
        _images(card),
        _facts(card),
        '<ol class="steps">' + "".join(_step(card, step, live) for step in card.steps) + "</ol>",
        _versions(card.versions),
    ]
    return f"<article{head}>" + "".join(body) + "</article>"


def _search_text(card: Card) -> str:
    words = [card.name, card.status, card.image.name, card.prompt_name or "", card.prompt or ""]
    words += [value for _, value in card.matrix]
    words += [step.prompt or "" for step in card.steps]
    return " ".join(words).lower()


def _images(card: Card) -> str:
    shown = [_image("start", card.image)]
    if card.end_image:
        shown.append(_image("end", card.end_image))
    return '<div class="images">' + "".join(shown) + "</div>"


def _image(role: str, image: ImageView) -> str:
    caption = (
        f"<figcaption>{role}: <b>{esc(image.name)}</b> <small>{esc(image.source)}</small>"
        "</figcaption>"
    )
    if image.href is None:
        return f'<figure class="image remote">{caption}</figure>'
    link = esc(image.href)
    picture = f'<img loading="lazy" decoding="async" src="{link}" alt="{esc(image.name)}">'
    return f'<figure class="image"><a href="{link}">{picture}</a>{caption}</figure>'


def _facts(card: Card) -> str:
    cost = shown(card.cost, card.currency)
    rows = [("prompt", card.prompt_name or "(none)"), ("take", str(card.take)), ("cost", cost)]
    rows += [(axis, value) for axis, value in card.matrix]
    items = "".join(f"<dt>{esc(name)}</dt><dd>{esc(value)}</dd>" for name, value in rows)
    settings = " · ".join(f"{esc(name)} <b>{esc(value)}</b>" for name, value in card.settings)
    return f'<dl class="facts">{items}</dl><p class="settings">{settings}</p>'


def _step(card: Card, step: StepView, live: bool) -> str:
    title = "base" if step.step == 0 else f"extension {step.step} · extends clip {step.extends}"
    if step.extends < 0:  # index: approved, and no clip of the step before is approved yet
        title = f"extension {step.step} · extends the approved clip (approve one)"
    prompt = step.prompt if step.prompt is not None else "(automatic)"
    poster = card.image.href if card.image.kind == "file" else None
    clips = "".join(_clip(clip, poster, live) for clip in step.clips)
    clips = f'<div class="clips lazy">{clips}</div>' if clips else NO_CLIPS
    return (
        f'<li class="step"><h3>{esc(title)} <span class="status status-{esc(step.status)}">'
        f'{esc(step.status)}</span></h3><p class="prompt">{esc(prompt)} '
        f"<small>motion {esc(step.motion)}</small></p>{clips}</li>"
    )


def _clip(clip: ClipView, poster: str | None, live: bool) -> str:
    poster = clip.poster or poster
    extra = attrs({"poster": poster}) if poster else ""
    mark = ' <strong class="final-mark">final</strong>' if clip.final else ""
    size = f" <small>{clip.size / 1000:.0f} kB</small>" if clip.size is not None else ""
    head = attrs(
        {
            "class": "clip final" if clip.final else "clip",
            "data-clip": clip.path,
            "data-sha256": clip.sha256,
            "data-verdict-now": clip.verdict or "unreviewed",
            "data-stars": clip.stars or 0,
        }
    )
    # The video is inert until its card nears the viewport: thousands of live <video controls>
    # parse slowly. The figure, its verdict and its controls are there from the start.
    return (
        f'<figure{head}><template><video preload="none" controls playsinline '
        f'src="{esc(clip.href)}"{extra}></video>{rating_controls(clip, live)}</template>'
        f'<figcaption>clip {clip.index}{mark}{size} <a href="{esc(clip.href)}">open</a>'
        f"</figcaption>{verdict_block(clip, live)}{render_clip_qc(clip.qc, clip.strip)}</figure>"
    )


def _versions(versions: tuple[VersionView, ...]) -> str:
    if not versions:
        return ""
    items = "".join(_version(version) for version in versions)
    plural = "s" if len(versions) != 1 else ""
    return (
        f'<details class="versions"><summary>{len(versions)} earlier version{plural}</summary>'
        f"<ul>{items}</ul></details>"
    )


def _version(version: VersionView) -> str:
    label = version.fingerprint[:12]
    if version.attempt is not None:
        label += f" attempt {version.attempt}"
    links = ", ".join(f'<a href="{esc(href)}">{esc(name)}</a>' for name, href in version.links)
    return f"<li>{esc(label)}: {links}</li>"
