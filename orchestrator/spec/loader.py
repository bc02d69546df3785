"""Load a campaign spec: read, parse, schema-check, check semantics, expand."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from orchestrator.errors import MjvError, SpecError, UsageError
from orchestrator.model import Campaign, RunOptions
from orchestrator.providers import DEFAULT_PROVIDER
from orchestrator.providers.pricing import PUBLISHED, resolve_tables
from orchestrator.spec import checks
from orchestrator.spec.expand import expand_jobs
from orchestrator.spec.images import resolve_images
from orchestrator.spec.limits import check_job_count
from orchestrator.spec.paths import Confinement, path_text_problem
from orchestrator.spec.problems import Problem, internal_error, sort_problems
from orchestrator.spec.salvage import salvage
from orchestrator.spec.schema import check_schema, describe_type
from orchestrator.spec.templates import Template, TemplateError
from orchestrator.spec.yamlsource import Document, parse_yaml

DEFAULT_PRICING = dict(PUBLISHED["cometapi"].prices)  # CometAPI's published mj_fast_video price
DEFAULT_CURRENCY = "USD"  # the unit of that price
DEFAULT_OUTPUT_DIR = "out/{{ campaign }}"
_FLOAT_OPTIONS = ("max_rps", "poll_interval", "task_timeout")
MAX_SPEC_BYTES = 10 * 1024 * 1024  # a spec of thousands of lines is under 1 MB


def load_campaign(path: Path) -> Campaign:
    """Read, parse, validate and expand the spec at ``path``; raise SpecError with every problem."""
    return _load(path)


def validate_spec(path: Path) -> int:
    """Check the spec at ``path`` like load_campaign; return its job count.

    The jobs are only counted (no fingerprints, no job objects): no problem depends on them.
    """
    return len(_load(path, build=False).jobs)


def check_spec(path: Path) -> tuple[Problem, ...]:
    """Return every problem of the spec at ``path`` (empty when valid); UsageError if unreadable."""
    try:
        validate_spec(path)
    except SpecError as exc:
        return tuple(p for p in exc.problems if isinstance(p, Problem))
    return ()


def _load(path: Path, build: bool = True) -> Campaign:
    doc = Document(str(path))
    try:
        doc = parse_yaml(str(path), read_spec(path))
        expand = _check_structure(doc)
        campaign = _build(doc, path, expand, build) if expand is not None else None
    except MjvError:
        raise
    except Exception as exc:  # a bug must not hide the other problems, nor show a traceback
        doc.problem((), internal_error(exc))
        campaign = None
    if doc.problems or campaign is None:
        problems = sort_problems(doc.problems)
        raise SpecError(f"{path}: {_count(problems)} found", problems)
    return campaign


def read_spec(path: Path) -> bytes:
    """Return the bytes of ``path``; a missing, unreadable, special or huge file: UsageError."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{path}: not a regular file")
        if info.st_size > MAX_SPEC_BYTES:
            raise UsageError(f"{path}: larger than {MAX_SPEC_BYTES // (1024 * 1024)} MB")
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError:  # a NUL byte in the path
        raise UsageError(f"{path!r}: not a valid path") from None


def _check_structure(doc: Document) -> bool | None:
    """Schema-check ``doc``; say whether expansion may run (None: no semantic check may)."""
    if doc.data is None:
        return None
    if not isinstance(doc.data, dict):
        got = describe_type(doc.data)
        doc.problem((), f"the top level must be a mapping of spec keys, got {got}")
        return None
    broken = check_schema(doc)
    return salvage(doc, broken) if broken else True


def _build(doc: Document, path: Path, expand: bool, build: bool) -> Campaign | None:
    place = Confinement.of(path.resolve().parent)
    images = resolve_images(doc, place)
    checks.check_references(doc, images)
    checks.check_names(doc)
    templates = checks.compile_templates(doc)
    within_limit = check_job_count(doc, images)
    if not expand or not within_limit:
        return None
    jobs = expand_jobs(doc, images, templates, build=build)
    data: dict[str, Any] = doc.data
    return Campaign(
        name=data["campaign"],
        spec_path=path.resolve(),
        description=data.get("description", ""),
        output_dir=_output_dir(doc, templates.get(("output", "dir")), place),
        jobs=jobs,
        currency=data.get("pricing", {}).get("currency", DEFAULT_CURRENCY),
        max_cost=data.get("budget", {}).get("max_cost"),
        run=_run_options(data.get("run", {})),
        **({"export_name": data["export"]["name"]} if "name" in data.get("export", {}) else {}),
        **_pricing(str(data.get("provider") or DEFAULT_PROVIDER), data.get("pricing", {})),
    )


def _prices(pricing: dict[str, Any]) -> dict[str, float]:
    """The prices under ``pricing:`` (its ``currency`` is a label, not a price)."""
    return {key: value for key, value in pricing.items() if key != "currency"}


def _pricing(provider: str, section: dict[str, Any]) -> dict[str, Any]:
    """The spec's own provider (the flat ``pricing:`` keys' one, whatever $MJV_PROVIDER says),
    its table, and every provider's table."""
    flat = {k: v for k, v in _prices(section).items() if not isinstance(v, dict)}
    nested = {k: v for k, v in section.items() if isinstance(v, dict)}
    tables = resolve_tables(provider, flat, nested)
    return {"provider": provider, "pricing": tables[provider], "provider_pricing": tables}


def _output_dir(doc: Document, template: Template | None, place: Confinement) -> Path:
    if template is None and "dir" in doc.data.get("output", {}):
        return place.spec_dir  # the template failed to compile; that problem is already recorded
    context = {**doc.data.get("vars", {}), "campaign": doc.data["campaign"]}
    try:
        folder = (template or Template(DEFAULT_OUTPUT_DIR)).render(context)
    except TemplateError as exc:
        doc.problem(("output", "dir"), f"{exc.message} (output.dir knows only vars and campaign)")
        return place.spec_dir
    problem = path_text_problem(folder)
    if problem is None and not place.contains(place.spec_dir / folder):
        problem = f"is outside {place.describe()}"
    if problem is not None:
        doc.problem(("output", "dir"), f"output folder {folder!r} {problem}")
        return place.spec_dir
    return (place.spec_dir / folder).resolve()


def _run_options(section: dict[str, Any]) -> RunOptions:
    values: dict[str, Any] = {k: float(v) if k in _FLOAT_OPTIONS else v for k, v in section.items()}
    return RunOptions(**values)


def _count(problems: tuple[Problem, ...]) -> str:
    return "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
