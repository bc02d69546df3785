"""Expand job templates: images x prompts x matrix rows x takes, rendered and fingerprinted."""

from __future__ import annotations

import gc
import itertools
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.frozen import fast_constructor
from orchestrator.model import AwaitingStep, Extension, ImageSource, Job, Settings
from orchestrator.qc.rules import QcRules, matrix_rules, rules_from
from orchestrator.spec.capability import check_prompt, check_variant, spec_provider
from orchestrator.spec.checks import SETTING_NAMES, Templates
from orchestrator.spec.identity import (
    encode_image,
    encode_settings,
    extension_fingerprint,
    extension_hasher,
    job_hasher,
)
from orchestrator.spec.images import ImageTable
from orchestrator.spec.problems import JsonPath
from orchestrator.spec.reserved import reserved_problem
from orchestrator.spec.salvage import live_jobs
from orchestrator.spec.templates import Template, TemplateError
from orchestrator.spec.yamlsource import Document

_SETTING_FIELDS = tuple(Settings.__dataclass_fields__)
_new_job = fast_constructor(Job)  # Job(...), made once per job: a faster path to the same
_new_extension = fast_constructor(Extension)
APPROVED = "approved"  # extend.index: the clip a review approved
_HD = "vid_1.1_i2v_720"
_LOOP_AND_END = (
    "loop: true with end_image {!r}: the provider would silently drop the end image "
    "(loop already sets the last frame); use one or the other"
)


def _row(entry: dict[str, Any], row: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A matrix row as (axis, value) pairs in the order the matrix lists its axes."""
    order = [key for key in entry.get("matrix", {}) if key not in ("include", "exclude")]
    order += [key for key in row if key not in order]
    return tuple((key, row[key]) for key in order if key in row)


def matrix_rows(matrix: dict[str, Any]) -> list[dict[str, Any]]:
    """GitHub-Actions matrix semantics: product of the axes, minus exclude, plus include."""
    axes = {key: values for key, values in matrix.items() if key not in ("include", "exclude")}
    combos = itertools.product(*axes.values()) if axes else ()
    rows = [dict(zip(axes, combo, strict=True)) for combo in combos]
    excludes = matrix.get("exclude", [])
    rows = [row for row in rows if not any(_matches(row, ex) for ex in excludes)]
    originals = len(rows)
    for extra in matrix.get("include", []):
        targets = [row for row in rows[:originals] if _matches(row, extra, only=axes)]
        for row in targets:
            row.update(extra)
        if not targets:
            rows.append(dict(extra))
    return rows if axes or rows else [{}]


def _fixed(index: int | str) -> int | None:
    return None if index == APPROVED else int(index)


def _matches(row: dict[str, Any], pattern: dict[str, Any], only: object = None) -> bool:
    keys = [key for key in pattern if only is None or key in only]  # type: ignore[operator]
    return all(key in row and row[key] == pattern[key] for key in keys)


def expand_jobs(
    doc: Document, images: ImageTable, templates: Templates, *, build: bool = True
) -> tuple[Job, ...]:
    """Expand every job template of ``doc`` in file order; problems go to ``doc``.

    With ``build=False`` only the problems are found and the jobs counted: every job is the
    same placeholder (``COUNTED``). Validation needs no more, and fingerprints and job objects
    are more than half the expansion's time.
    """
    # Thousands of jobs allocate many small objects and make no reference cycles; the cyclic
    # collector's passes over the large live heap used to cost more than the expansion itself.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _Expander(doc, images, templates, build).run()
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class _Variant:
    settings: Settings
    end: ImageSource | None
    context: dict[str, Any]
    settings_json: str  # canonical JSON pieces of the job fingerprint
    end_json: str
    row: tuple[tuple[str, Any], ...]  # the matrix row, in axis order
    qc: QcRules
    provider: str
    hashed: Callable[[str, str | None, int], str]  # a job's fingerprint (image, prompt, take)


COUNTED = Job("", "", ImageSource("", "url"), None, None, Settings(), 1, "")


# Variables that differ from job to job of one matrix row and prompt: a template using none
# of them renders once per (prompt, row).
_PER_JOB = frozenset({"image", "take", "job"})
# (step index, motion or None for the job's, index of the clip extended, prompt path or None)
_StepSpec = tuple[int, str | None, Any, JsonPath | None]  # index: an int or APPROVED
# A matrix row's extension plan when no step renders a prompt: what each planned step hashes
# its parent with (the same for every job of the row), and the steps awaiting a review.
_FixedSteps = tuple[
    tuple[tuple[int, str, int, Callable[[str], str]], ...], tuple[AwaitingStep, ...]
]


def _fixed_steps(steps: tuple[Extension, ...], awaiting: tuple[AwaitingStep, ...]) -> _FixedSteps:
    """What a matrix row's first job's steps say of every other job of the row."""
    planned = tuple(
        (e.step, e.motion, e.index, extension_hasher(e.prompt, e.motion, e.index)) for e in steps
    )
    return planned, awaiting


def _chained(
    planned: tuple[tuple[int, str, int, Callable[[str], str]], ...], parent: str
) -> tuple[Extension, ...]:
    """A job's planned steps, each fingerprint chained on the one before (its base's first)."""
    steps = []
    for step, motion, index, hashed in planned:
        parent = hashed(parent)
        steps.append(_new_extension(step, None, motion, index, parent))
    return tuple(steps)


def _step_spec(i: int, k: int, step: dict[str, Any]) -> _StepSpec:
    path: JsonPath | None = ("jobs", i, "extend", k, "prompt") if "prompt" in step else None
    return k, step.get("motion"), step.get("index", 0), path


class _Expander:
    def __init__(
        self, doc: Document, images: ImageTable, templates: Templates, build: bool = True
    ) -> None:
        self.build = build
        self.prompts: dict[tuple[str, int], str | None] = {}  # (prompt, row) -> rendered
        self.steps: list[_StepSpec] = []  # the extension steps of the entry being expanded
        self.fixed_steps: dict[int, _FixedSteps] = {}  # id(variant) -> its steps, if fixed
        self.spec_stem = Path(doc.file).stem
        self.doc, self.images, self.templates = doc, images, templates
        self.data: dict[str, Any] = doc.data
        self.defaults: dict[str, Any] = self.data.get("defaults", {})
        self.names: dict[str, JsonPath] = {}
        self.seen: set[tuple[JsonPath, str]] = set()
        self.outputs: dict[str, tuple[str, int]] = {}  # output folder -> (job name, template)
        self.image_json: dict[str, str] = {}
        self.prompts_checked: set[tuple[int, str, str | None]] = set()
        self.output_name = templates.get(("output", "name")) or Template("{{ job }}")
        # The default output name is the job's name itself: no render needed.
        self.output_is_name = self.output_name.source.strip() == "{{ job }}"
        self.provider = spec_provider(self.data)

    def run(self) -> tuple[Job, ...]:
        jobs: list[Job] = []
        for i, entry in live_jobs(self.data):
            jobs.extend(self.expand_entry(i, entry))
        return tuple(jobs)

    def expand_entry(self, i: int, entry: dict[str, Any]) -> list[Job]:
        rows = matrix_rows(entry.get("matrix", {}))
        if not rows:
            self.report(("jobs", i, "matrix"), "the matrix leaves no rows after exclude")
        sources = [src for name in entry["images"] for src in self.images.get(name, ())]
        prompts: list[str | None] = list(entry.get("prompts", [])) or [None]
        name_template = self.name_template(i, entry, rows)
        variants = [self.variant(i, entry, row, prompts) for row in rows]
        self.prompts.clear()
        self.fixed_steps.clear()  # keyed by the ids of this entry's variants
        self.steps = [_step_spec(i, k, step) for k, step in enumerate(entry.get("extend", []))]
        jobs = []
        for source, prompt_name, variant in itertools.product(sources, prompts, variants):
            for take in range(1, entry.get("takes", 1) + 1):
                job = self.make_job(i, entry, name_template, source, prompt_name, variant, take)
                if job is not None:
                    jobs.append(job)
        return jobs

    def variant(
        self, i: int, entry: dict[str, Any], row: dict[str, Any], prompts: list[str | None]
    ) -> _Variant:
        """What one matrix row fixes for all its jobs: settings, end image, base context."""
        chosen = {**self.defaults, **{k: entry[k] for k in SETTING_NAMES if k in entry}}
        chosen.update({k: row[k] for k in SETTING_NAMES if k in row})
        settings = Settings(**{k: chosen[k] for k in _SETTING_FIELDS if k in chosen})
        end_name = chosen.get("end_image")
        end = (self.images.get(end_name) or (None,))[0] if end_name else None
        provider = str(chosen.get("provider") or self.provider)
        context = {**self.data.get("vars", {}), **entry.get("vars", {}), **row, **vars(settings)}
        context["provider"] = provider
        context |= {"campaign": self.data["campaign"], "end_image": end_name}
        if settings.video_type == _HD and settings.mode == "relax":
            where = self.origin(i, entry, row, "video_type")
            self.report(where, f"HD ({_HD}) is not available in relax mode; use fast")
        if prompts == [None] and settings.animate == "manual":
            self.report(("jobs", i), "a job without prompts needs animate: auto")
        if settings.loop and end_name:
            where = self.origin(i, entry, row, "end_image")
            self.report(where, _LOOP_AND_END.format(end_name))
        check_variant(self, i, entry, row, provider, settings, end)
        settings_json, end_json = encode_settings(settings), encode_image(end)
        qc = rules_from({**self.defaults.get("qc", {}), **entry.get("qc", {}), **matrix_rules(row)})
        hashed = job_hasher(end_json, settings_json, provider)
        return _Variant(
            settings, end, context, settings_json, end_json, _row(entry, row), qc, provider, hashed
        )

    def name_template(
        self, i: int, entry: dict[str, Any], rows: list[dict[str, Any]]
    ) -> Template | None:
        if "name" in entry:
            return self.templates.get(("jobs", i, "name"))
        parts = ["image"] + (["prompt"] if "prompts" in entry else [])
        parts += list(dict.fromkeys(key for row in rows for key in row))
        parts += ["take"] if entry.get("takes", 1) > 1 else []
        return Template("-".join(f"{{{{ {part} }}}}" for part in parts))

    def make_job(
        self,
        i: int,
        entry: dict[str, Any],
        name_template: Template | None,
        source: ImageSource,
        prompt_name: str | None,
        variant: _Variant,
        take: int,
    ) -> Job | None:
        settings, end = variant.settings, variant.end
        context = variant.context.copy()  # faster than {**...} for the dozen keys it has
        context["image"], context["prompt"], context["take"] = source.name, prompt_name or "", take
        name = self.render(name_template, ("jobs", i, "name"), context, (i, source.name, take))
        if name is None:
            return None
        context["job"] = name
        prompt = self.prompt(prompt_name, variant, context, name)
        self.check_name(i, entry, name)
        image_json = self.image_json.get(source.name)
        if image_json is None:
            image_json = self.image_json[source.name] = encode_image(source)
        if (i, variant.provider, prompt) not in self.prompts_checked:
            # What it reports depends on these alone and is reported once: checked once.
            self.prompts_checked.add((i, variant.provider, prompt))
            check_prompt(self, i, entry, name, variant.provider, prompt)
        if self.output_is_name:
            output = name
        else:
            output = self.render(self.output_name, ("output", "name"), context, name) or name
        self.check_output(output, name, i)
        if not self.build:
            self.extensions(i, entry, settings, context, "", name)
            return COUNTED
        base = variant.hashed(image_json, prompt, take)
        fixed = self.fixed_steps.get(id(variant))
        if fixed is not None:
            extensions, awaiting = _chained(fixed[0], base), fixed[1]
        else:
            extensions, awaiting = self.extensions(i, entry, settings, context, base, name)
            if not any(path for *_, path in self.steps):  # no prompt to render: fixed steps
                self.fixed_steps[id(variant)] = _fixed_steps(extensions, awaiting)
        return _new_job(
            name,
            base,
            source,
            prompt_name,
            prompt,
            settings,
            take,
            output,
            end,
            extensions,
            variant.row,
            awaiting=awaiting,
            variables=variant.context,
            qc=variant.qc,
            provider=variant.provider,
        )

    def prompt(
        self, prompt_name: str | None, variant: _Variant, context: dict[str, Any], name: str
    ) -> str | None:
        """The job's rendered prompt; rendered once per matrix row when no job varies it."""
        if prompt_name is None:
            return None
        key = (prompt_name, id(variant))  # the variants live as long as the cache
        if key in self.prompts:
            return self.prompts[key]
        path: JsonPath = ("prompts", prompt_name)
        template = self.templates.get(path)
        text = self.render(template, path, context, name)
        if template is not None and not _PER_JOB.intersection(template.variables):
            self.prompts[key] = text
        return text

    def extensions(
        self,
        i: int,
        entry: dict[str, Any],
        settings: Settings,
        context: dict[str, Any],
        parent: str,
        name: str,
    ) -> tuple[tuple[Extension, ...], tuple[AwaitingStep, ...]]:
        """The planned steps, and from the first ``index: approved`` on, those awaiting a review."""
        steps: list[Extension] = []
        awaiting: list[AwaitingStep] = []
        for k, given_motion, index, path in self.steps:
            motion = settings.motion if given_motion is None else given_motion
            prompt = None
            if path is not None:
                step_context = {**context, "step": k + 1, "motion": motion}
                prompt = self.render(self.templates.get(path), path, step_context, name)
            if index != APPROVED and index >= settings.batch_size:
                self.report(
                    ("jobs", i, "extend", k, "index"),
                    f"index {index} needs batch_size > {index}; "
                    f"job {name!r} has batch_size {settings.batch_size}",
                )
            if index == APPROVED or awaiting:
                awaiting.append(AwaitingStep(k + 1, prompt, motion, _fixed(index)))
                continue
            if self.build:
                parent = extension_fingerprint(parent, prompt, motion, index)
                steps.append(_new_extension(k + 1, prompt, motion, index, parent))
        return tuple(steps), tuple(awaiting)

    def check_name(self, i: int, entry: dict[str, Any], name: str) -> None:
        if name in self.names:
            first = self.names[name]
            where = ("jobs", i, "name") if "name" in entry else ("jobs", i)
            hint = "; add {{ take }} to it" if self.takes_unnamed(entry) else ""
            message = f"job name {name!r} is not unique (also made by $.jobs[{first[1]}]){hint}"
            self.report(where, message)
        else:
            self.names[name] = ("jobs", i)

    def takes_unnamed(self, entry: dict[str, Any]) -> bool:
        return bool(entry.get("takes", 1) > 1 and "take" not in entry.get("name", "take"))

    def check_output(self, output: str, name: str, i: int) -> None:
        slash = "/" in output
        escapes = output.startswith("/") or ".." in output.split("/") if slash else output == ".."
        if escapes or not output.strip() or "\0" in output:
            message = f"output folder {output!r} of job {name!r} must stay inside output.dir"
            self.report(("output", "name"), message)
            return
        # normpath changes only names with a slash, or the names "." and "" (refused above).
        folder = posixpath.normpath(output) if slash or output == "." else output
        reserved = reserved_problem(folder, self.spec_stem)
        if reserved is not None:
            message = f"output folder {output!r} of job {name!r} is refused: {reserved}"
            self.report(self.output_origin(i), message)
            return
        first = self.outputs.get(folder)
        if first is None:
            self.outputs[folder] = (name, i)
        elif first[0] != name:
            self.report(
                self.output_origin(i),
                f"jobs {first[0]!r} ($.jobs[{first[1]}]) and {name!r} ($.jobs[{i}]) both write "
                f"to the output folder {folder!r}; output.name must tell them apart",
            )

    def output_origin(self, i: int) -> JsonPath:
        return ("output", "name") if "name" in self.data.get("output", {}) else ("jobs", i)

    def origin(self, i: int, entry: dict[str, Any], row: dict[str, Any], setting: str) -> JsonPath:
        if setting in row and setting in entry.get("matrix", {}):
            return ("jobs", i, "matrix", setting)
        if setting in entry:
            return ("jobs", i, setting)
        return ("defaults", setting) if setting in self.defaults else ("jobs", i)

    def render(
        self,
        template: Template | None,
        path: JsonPath,
        context: dict[str, Any],
        job: str | tuple[int, str, int],
    ) -> str | None:
        """Render ``template`` for ``job`` (its name, or (entry, image, take) before it has one)."""
        if template is None:
            return None
        try:
            return template.render(context)
        except TemplateError as exc:
            if isinstance(job, str):
                where = repr(job)
            else:
                where = f"$.jobs[{job[0]}] (image {job[1]!r}, take {job[2]})"
            at = self.doc.find_in_template(path, exc.variable) if exc.variable else None
            self.report(path, f"{exc.message} in job {where}", key=exc.message, at=at)
            return None

    def report(
        self,
        path: JsonPath,
        message: str,
        key: str | None = None,
        at: tuple[int, int] | None = None,
    ) -> None:
        """Report a problem once per place and kind, however many jobs hit it."""
        marker = (path, key or message.split("'")[0])
        if marker not in self.seen:
            self.seen.add(marker)
            self.doc.problem(path, message, at=at)
