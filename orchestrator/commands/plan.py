"""`mjv plan SPEC`: every job a run would submit, its identity, and the totals and cost."""

from __future__ import annotations

import argparse
import gc
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO, TypeVar

from orchestrator.errors import EXIT_ERROR, EXIT_OK, SpecError, UsageError
from orchestrator.model import Campaign, ImageSource, Job, Settings
from orchestrator.plan import Plan, PlanRow, Totals, build_plan
from orchestrator.spec import Problem, load_campaign

EXIT_WORK = 2  # terraform's -detailed-exitcode: 0 nothing to do, 1 error, 2 changes
_MARKS = {
    "new": "+",
    "changed": "~",
    "incomplete": "~",
    "failed": "!",
    "done": "=",
    "orphaned": "-",
}
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_CHUNK = 1000  # jobs encoded per call
T = TypeVar("T")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Load ``args.spec``, plan it and print the plan; exit 0 nothing to do, 2 work, 1 error."""
    try:
        campaign = load_campaign(Path(args.spec))
    except SpecError as exc:
        err.writelines(f"{p.format()}\n" for p in exc.problems if isinstance(p, Problem))
        err.write(f"mjv: error: {exc}\n")
        return EXIT_ERROR
    except UsageError as exc:  # exit 2 means "work to do" here, so a bad path is plain 1
        err.write(f"mjv: error: {exc}\n")
        return EXIT_ERROR
    gc.freeze()  # the campaign stays to the end: later collections need not walk it again
    try:
        plan = _plan(campaign, args)
        if args.format == "json":
            write_json(plan, out)
        else:
            write_text(plan, out)
    finally:
        gc.unfreeze()
    return EXIT_WORK if plan.has_work else EXIT_OK


def _plan(campaign: Campaign, args: argparse.Namespace) -> Plan:
    """Plan against the state file when there is one (looking never creates it)."""
    # Imported here: a plan without state (the CI case) need not load sqlite3.
    from orchestrator.engine.status import classify
    from orchestrator.state import default_state_path, open_store

    path = Path(args.state) if args.state else default_state_path(campaign.spec_path)
    if not path.exists():
        return build_plan(campaign)
    with open_store(path, campaign.name) as store:
        classes = classify(campaign, {sub.key: sub for sub in store.submissions()})
    return build_plan(campaign, classes.jobs, classes.remaining, classes.orphaned)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data (stable keys; cost is null when a price is unknown)."""
    return {**_head_json(plan), "jobs": [_row_json(row) for row in plan.rows]}


def write_json(plan: Plan, out: TextIO) -> None:
    """Write ``plan_to_json(plan)`` as one line of sorted-key JSON, a chunk of jobs at a time.

    The bytes are those of ``json.dumps(plan_to_json(plan), sort_keys=True)``, without ever
    holding every job's data (or the whole text) in memory at once.
    """
    head = _head_json(plan)
    out.write("{")
    for n, key in enumerate(sorted([*head, "jobs"])):
        out.write(f"{', ' if n else ''}{_ENCODER.encode(key)}: ")
        if key == "jobs":
            _write_rows(plan.rows, out)
        else:
            out.write(_ENCODER.encode(head[key]))
    out.write("}\n")


def _write_rows(rows: Sequence[PlanRow], out: TextIO) -> None:
    # The C encoder does a chunk in one call; ", " joins chunks as it joins list items.
    out.write("[")
    shared: dict[int, Any] = {}
    for start in range(0, len(rows), _CHUNK):
        chunk = _ENCODER.encode([_row_json(row, shared) for row in rows[start : start + _CHUNK]])
        out.write((", " if start else "") + chunk[1:-1])
    out.write("]")


def _head_json(plan: Plan) -> dict[str, Any]:
    return {
        "campaign": plan.campaign,
        "spec": plan.spec_path,
        "output_dir": plan.output_dir,
        "max_cost": plan.max_cost,
        "over_budget": plan.over_budget,
        "totals": {**asdict(plan.totals), "unpriced": dict(plan.totals.unpriced)},
    }


def _row_json(row: PlanRow, shared: dict[int, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"name": row.name, "fingerprint": row.fingerprint, "status": row.status}
    data |= {"submissions": row.video_submissions, "seconds": row.seconds}
    if row.job is not None:
        data |= _job_json(row.job, {} if shared is None else shared)
    return data


def _job_json(job: Job, shared: dict[int, Any]) -> dict[str, Any]:
    return {
        "key": job.key,
        "image": _once(job.image, _image_json, shared),
        "end_image": _once(job.end_image, _image_json, shared) if job.end_image else None,
        "prompt_name": job.prompt_name,
        "prompt": job.prompt,
        "settings": _once(job.settings, _settings_json, shared),
        "take": job.take,
        "output": job.output_name,
        "extensions": [dict(vars(step)) for step in job.extensions],
    }


def _once(thing: T, make: Callable[[T], dict[str, Any]], shared: dict[int, Any]) -> Any:
    """``make(thing)``, made once for an object many jobs share (images, settings)."""
    found = shared.get(id(thing))  # the plan keeps every job alive, so ids are not reused
    if found is None:
        found = shared[id(thing)] = make(thing)
    return found


def _settings_json(settings: Settings) -> dict[str, Any]:
    return dict(vars(settings))


def _image_json(image: ImageSource) -> dict[str, Any]:
    data = {"name": image.name, "kind": image.kind, **image.identity()}
    return data | ({"path": str(image.path)} if image.path else {})


def write_text(plan: Plan, out: TextIO) -> None:
    """Print the plan for people: one block per job, then the totals."""
    out.write(f"campaign {plan.campaign} ({plan.spec_path})\noutput   {plan.output_dir}\n\n")
    for row in plan.rows:
        _write_row(row, out)
    out.write(_totals_text(plan.totals, plan.max_cost, plan.over_budget))


def _write_row(row: PlanRow, out: TextIO) -> None:
    out.write(f"{_MARKS.get(row.status, '?')} {row.name} [{row.status}] {row.fingerprint[:12]}\n")
    job = row.job
    if job is None:
        return
    s = job.settings
    out.write(f"    image    {job.image.name} ({_image_text(job.image)})\n")
    if job.end_image is not None:
        out.write(f"    end      {job.end_image.name} ({_image_text(job.end_image)})\n")
    prompt = f"{job.prompt_name}: {job.prompt}" if job.prompt_name else "(automatic)"
    out.write(f"    prompt   {prompt}\n")
    flags = "".join(f" {flag}" for flag, on in (("loop", s.loop), ("raw", s.raw)) if on)
    out.write(f"    settings {s.mode} {s.video_type} {s.animate} motion={s.motion}")
    out.write(f" batch={s.batch_size} take={job.take}{flags}\n")
    for step in job.extensions:
        text = step.prompt if step.prompt is not None else "(automatic)"
        out.write(
            f"    extend {step.step} clip {step.index} motion={step.motion} {step.fingerprint[:12]}"
        )
        out.write(f": {text}\n")


def _image_text(image: ImageSource) -> str:
    if image.kind == "url":
        return f"url {image.url}"
    if image.kind == "file":
        return f"file {image.path}, sha256 {(image.sha256 or '')[:12]}"
    return f"imagine {image.imagine!r} pick {image.pick}"


def _totals_text(totals: Totals, max_cost: float | None, over_budget: bool) -> str:
    lines = [
        f"\n{totals.jobs} jobs, {totals.to_do} to do",
        f"{totals.video_submissions} video submissions (extensions included)"
        + (
            f", {totals.imagine_submissions} imagine/upscale submissions"
            if totals.imagine_submissions
            else ""
        ),
        f"{totals.seconds:g} seconds of video",
        f"estimated cost: {_cost_text(totals)}",
    ]
    if max_cost is not None:
        lines.append(
            f"budget: {max_cost:g}" + (" (EXCEEDED by the known cost)" if over_budget else "")
        )
    return "\n".join(lines) + "\n"


def _cost_text(totals: Totals) -> str:
    if totals.cost is not None:
        return f"{totals.cost:.2f}"
    missing = ", ".join(f"{count} {mode}" for mode, count in sorted(totals.unpriced.items()))
    return f"unknown (no price for {missing} submissions; known part {totals.known_cost:.2f})"
