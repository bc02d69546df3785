"""The capability matrix: what each provider can make, checked before anything is spent.

A spec that asks a provider for something it cannot do is refused, never silently degraded.
Where a provider's documents are silent (PROVIDERS.md "NOT FOUND"), the stricter reading wins.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from orchestrator.model import Job, Settings

HD_VIDEO = "vid_1.1_i2v_720"


@dataclass(frozen=True)
class Capabilities:
    """What one provider documents for Midjourney video."""

    modes: frozenset[str]
    hd: bool
    loop: bool
    end_frame: bool
    batch_sizes: frozenset[int]
    auto_animate: bool  # animate: auto on a base clip from a start image
    max_extensions: int  # extension steps in a chain; 0: no extend at all
    auto_extend: bool  # an extension step without a prompt
    uploads: bool  # local files (start image uploaded, not a URL)
    stills: bool  # imagine: sources (a Midjourney still generated first)
    raw: bool  # the --raw style flag
    max_prompt: int | None = None  # characters of a motion prompt
    needs_prompt: bool = False  # a base clip must have a motion prompt
    extend_motion: bool = True  # an extension step's own motion is sent


ALL_MODES = frozenset({"fast", "relax", "turbo"})
BATCHES = frozenset({1, 2, 4})

CAPABILITIES: Mapping[str, Capabilities] = {
    # API.md: every mode by path prefix, HD, loop, endImage, batchSize, extend up to 4 steps.
    "cometapi": Capabilities(
        modes=ALL_MODES, hd=True, loop=True, end_frame=True, batch_sizes=BATCHES,
        auto_animate=True, max_extensions=4, auto_extend=True, uploads=True, stills=True,
        raw=True,
    ),
    # PROVIDERS.md 3: fixed FAST, no loop field, end_url, batch 1/2/4, auto needs a parent
    # imagine task, no extend, base64 for video not documented.
    "apimart": Capabilities(
        modes=frozenset({"fast"}), hd=True, loop=False, end_frame=True, batch_sizes=BATCHES,
        auto_animate=False, max_extensions=0, auto_extend=False, uploads=False, stills=False,
        raw=False,
    ),
    # PROVIDERS.md 4: speed n/a for video, mj_video_hd, no end frame or loop, batch 1/2/4,
    # auto only on extend, chaining not documented (one step), URL only, prompt required.
    "kie": Capabilities(
        modes=frozenset({"fast"}), hd=True, loop=False, end_frame=False, batch_sizes=BATCHES,
        auto_animate=False, max_extensions=1, auto_extend=True, uploads=False, stills=False,
        raw=False, max_prompt=2000, needs_prompt=True, extend_motion=False,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    """One thing a provider cannot make: the spec field it comes from and why."""

    field: str  # mode, video_type, loop, end_image, batch_size, animate, raw, extend, images
    message: str


def setting_refusals(provider: str, settings: Settings, end_frame: bool) -> Iterator[Refusal]:
    """What ``provider`` refuses in one job's settings (and end frame)."""
    caps = CAPABILITIES[provider]
    if settings.mode not in caps.modes:
        modes = ", ".join(sorted(caps.modes))
        yield Refusal("mode", f"{provider} has no {settings.mode} mode (only {modes})")
    if settings.video_type == HD_VIDEO and not caps.hd:
        yield Refusal("video_type", f"{provider} cannot make HD clips")
    if settings.loop and not caps.loop:
        yield Refusal("loop", f"{provider} cannot make looping clips (no loop option)")
    if end_frame and not caps.end_frame:
        yield Refusal("end_image", f"{provider} cannot end a clip on an end image")
    if settings.batch_size not in caps.batch_sizes:
        sizes = ", ".join(str(n) for n in sorted(caps.batch_sizes))
        yield Refusal("batch_size", f"{provider} makes batches of {sizes} clips only")
    if settings.animate == "auto" and not caps.auto_animate:
        yield Refusal("animate", f"{provider} cannot animate a start image automatically")
    if settings.raw and not caps.raw:
        yield Refusal("raw", f"{provider} documents no --raw style flag")


def chain_refusals(
    provider: str, steps: int, auto_steps: int, motion_steps: int = 0
) -> Iterator[Refusal]:
    """What ``provider`` refuses in an extension plan of ``steps`` steps (``auto_steps``
    without a prompt, ``motion_steps`` naming their own motion)."""
    caps = CAPABILITIES[provider]
    if motion_steps and caps.max_extensions and not caps.extend_motion:
        yield Refusal("extend", f"{provider} takes no motion for an extension (remove it)")
    if steps and caps.max_extensions == 0:
        yield Refusal("extend", f"{provider} cannot extend clips")
    elif steps > caps.max_extensions:
        yield Refusal(
            "extend",
            f"{provider} extends a clip {caps.max_extensions} step(s) at most "
            f"(chained extensions are not documented); this plan has {steps}",
        )
    if auto_steps and caps.max_extensions and not caps.auto_extend:
        yield Refusal("extend", f"{provider} cannot extend automatically (give each a prompt)")


def image_refusals(provider: str, kind: str, name: str) -> Iterator[Refusal]:
    """What ``provider`` refuses about a start or end image of ``kind`` (url, file, imagine)."""
    caps = CAPABILITIES[provider]
    if kind == "file" and not caps.uploads:
        yield Refusal("images", f"{provider} takes start images as URLs only; {name!r} is a file")
    if kind == "imagine" and not caps.stills:
        message = f"{provider} cannot make the Midjourney still {name!r} (use a URL)"
        yield Refusal("images", message)


def prompt_refusals(provider: str, prompt: str | None) -> Iterator[Refusal]:
    """What ``provider`` refuses about a base clip's rendered motion prompt."""
    caps = CAPABILITIES[provider]
    if caps.needs_prompt and not (prompt or "").strip():
        yield Refusal("prompts", f"{provider} needs a motion prompt for every clip")
    if caps.max_prompt is not None and prompt is not None and len(prompt) > caps.max_prompt:
        yield Refusal(
            "prompts", f"{provider} takes prompts of {caps.max_prompt} characters at most"
        )


def job_refusals(job: Job, provider: str) -> list[Refusal]:
    """Everything ``provider`` would refuse about ``job`` (for pricing it elsewhere)."""
    found = list(setting_refusals(provider, job.settings, job.end_image is not None))
    auto = sum(1 for ext in job.extensions if ext.prompt is None)
    found += chain_refusals(provider, len(job.extensions), auto)
    for image in (job.image, job.end_image):
        if image is not None:
            found += image_refusals(provider, image.kind, image.name)
    found += prompt_refusals(provider, job.prompt)
    return found
