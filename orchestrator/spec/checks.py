"""Semantic checks beyond the schema: references, names, matrix axes, templates."""

from __future__ import annotations

from typing import Any

from orchestrator.model import Settings
from orchestrator.spec.images import ImageTable
from orchestrator.spec.problems import JsonPath, did_you_mean
from orchestrator.spec.qcrules import MATRIX_PREFIX, check_matrix_rule
from orchestrator.spec.salvage import live_jobs
from orchestrator.spec.schema import describe_type, load_schema
from orchestrator.spec.templates import Template, TemplateError
from orchestrator.spec.yamlsource import Document

SETTING_NAMES = (*Settings.__dataclass_fields__, "end_image", "provider")
BUILTIN_NAMES = ("campaign", "image", "prompt", "take", "job", "step")
RESERVED_NAMES = BUILTIN_NAMES + SETTING_NAMES
Templates = dict[JsonPath, Template]


def check_references(doc: Document, images: ImageTable) -> None:
    """Every image and prompt name a job (or a setting) uses must exist."""
    prompts = doc.data.get("prompts", {})
    _check_end_image(doc, ("defaults", "end_image"), images)
    for i, job in live_jobs(doc.data):
        for j, name in enumerate(job["images"]):
            if name not in images and ("images", name) not in doc.broken:
                doc.problem(
                    ("jobs", i, "images", j), f"unknown image {name!r}{did_you_mean(name, images)}"
                )
        for j, name in enumerate(job.get("prompts", [])):
            if name not in prompts and ("prompts", name) not in doc.broken:
                doc.problem(
                    ("jobs", i, "prompts", j),
                    f"unknown prompt {name!r}{did_you_mean(name, prompts)}",
                )
        _check_end_image(doc, ("jobs", i, "end_image"), images)
        for k, _ in enumerate(job.get("matrix", {}).get("end_image", [])):
            _check_end_image(doc, ("jobs", i, "matrix", "end_image", k), images)


def _check_end_image(doc: Document, path: JsonPath, images: ImageTable) -> None:
    value = _lookup(doc.data, path)
    if not isinstance(value, str):
        return
    if value not in images and ("images", value) not in doc.broken:
        doc.problem(path, f"unknown image {value!r}{did_you_mean(value, images)}")
    elif len(images.get(value, ())) > 1:
        doc.problem(
            path,
            f"end_image must name one image; {value!r} is a glob of {len(images[value])} files",
        )


def _lookup(data: Any, path: JsonPath) -> Any:
    for part in path:
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if not in_list and not (isinstance(data, dict) and part in data):
            return None
        data = data[part]
    return data


def check_names(doc: Document) -> None:
    """Variables and matrix axes must not shadow built-in names; include/exclude use real axes."""
    for key in doc.data.get("vars", {}):
        _check_var(doc, ("vars", key))
    for i, job in live_jobs(doc.data):
        for key in job.get("vars", {}):
            _check_var(doc, ("jobs", i, "vars", key))
        if "matrix" in job:
            _check_matrix(doc, ("jobs", i, "matrix"), job["matrix"])


def _check_var(doc: Document, path: JsonPath) -> None:
    name = path[-1]
    if name in RESERVED_NAMES:
        kind = "a setting" if name in SETTING_NAMES else "a built-in variable"
        doc.problem(path, f"{name!r} is {kind}; it cannot be a template variable", True)


def _check_matrix(doc: Document, path: JsonPath, matrix: dict[str, Any]) -> None:
    axes = [key for key in matrix if key not in ("include", "exclude")]
    for axis in axes:
        if axis in BUILTIN_NAMES:
            doc.problem(
                (*path, axis), f"{axis!r} is a built-in variable; it cannot be an axis", True
            )
        elif axis in SETTING_NAMES:
            for k, value in enumerate(matrix[axis]):
                _check_setting_value(doc, (*path, axis, k), axis, value)
        elif axis.startswith(MATRIX_PREFIX):
            for k, value in enumerate(matrix[axis]):
                check_matrix_rule(doc, (*path, axis, k), axis, value)
    for part in ("include", "exclude"):
        for r, row in enumerate(matrix.get(part, [])):
            for key, value in row.items():
                where = (*path, part, r, key)
                if key not in axes:
                    doc.problem(
                        where, f"unknown matrix axis {key!r}{did_you_mean(key, axes)}", True
                    )
                elif key in SETTING_NAMES:
                    _check_setting_value(doc, where, key, value)


def _check_setting_value(doc: Document, path: JsonPath, setting: str, value: Any) -> None:
    """Matrix values of a setting axis get the same checks as the setting itself."""
    rule = load_schema()["$defs"][setting]
    if rule.get("type") == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        doc.problem(path, f"expected an integer, got {describe_type(value)}")
    elif "enum" in rule and value not in rule["enum"]:
        choices = ", ".join(repr(choice) for choice in rule["enum"])
        doc.problem(path, f"{value!r} is not one of {choices}{did_you_mean(value, rule['enum'])}")
    elif rule.get("type") == "boolean" and not isinstance(value, bool):
        doc.problem(path, f"expected true or false, got {describe_type(value)}")


def compile_templates(doc: Document) -> Templates:
    """Compile every template of the spec; a failure is a problem at the template's position."""
    sources: list[tuple[JsonPath, Any]] = [
        (("prompts", n), s) for n, s in doc.data.get("prompts", {}).items()
    ]
    for i, job in live_jobs(doc.data):
        sources.append((("jobs", i, "name"), job.get("name")))
        sources.extend(
            (("jobs", i, "extend", k, "prompt"), step.get("prompt"))
            for k, step in enumerate(job.get("extend", []))
        )
    output = doc.data.get("output", {})
    sources.extend((("output", key), output.get(key)) for key in ("dir", "name"))
    sources.append((("export", "name"), doc.data.get("export", {}).get("name")))
    templates: Templates = {}
    for path, source in sources:
        if source is None:
            continue
        try:
            templates[path] = Template(source)
        except TemplateError as exc:
            doc.problem(
                path, exc.message if exc.line == 1 else f"{exc.message} (template line {exc.line})"
            )
    return templates
