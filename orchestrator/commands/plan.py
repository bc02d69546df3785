"""`mjv plan SPEC`: every job a run would submit, its identity, and the totals and cost."""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TextIO, TypeVar

from orchestrator.commands.compare import compare, write_comparison
from orchestrator.commands.plan_rows import row_text
from orchestrator.commands.simulated import state_choice
from orchestrator.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, EXIT_WORK, SpecError, UsageError
from orchestrator.model import Campaign, ImageSource, Job, JobStatus, Settings
from orchestrator.money import cap, shown
from orchestrator.plan import STATUSES, Plan, PlanRow, Totals, build_plan
from orchestrator.providers import DEFAULT_PROVIDER
from orchestrator.qc.worst import worst_case_text
from orchestrator.review.current import campaign_counts, reviewed
from orchestrator.review.plan import review_lines, verdict_counts
from orchestrator.review.resolve import Files, files_of_manifest, files_of_store
from orchestrator.spec import Problem, load_campaign
from orchestrator.terminal import md_code, md_text, one_line

_MARKS = {
    JobStatus.NEW: "+",
    JobStatus.CHANGED: "~",
    JobStatus.INCOMPLETE: "~",
    JobStatus.FAILED: "!",
    JobStatus.DONE: "=",
    JobStatus.ORPHANED: "-",
    JobStatus.WAITING: ".",
}
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_CHUNK = 1000  # jobs encoded per call
T = TypeVar("T")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Load ``args.spec``, plan it and print the plan; exit 0 nothing to do, 2 work, 1 error."""
    # A big plan allocates millions of objects and makes no reference cycles: the cyclic
    # collector would only walk them, again and again (0.2 s after the expansion alone, as
    # much again while the rows and their text are made), so it stays off until the end.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(args, out, err)
    finally:
        if enabled:
            gc.enable()


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        campaign = load_campaign(Path(args.spec))
    except SpecError as exc:
        err.writelines(f"{p.format()}\n" for p in exc.problems if isinstance(p, Problem))
        err.write(f"mjv: error: {exc}\n")
        return EXIT_ERROR
    except UsageError as exc:
        err.write(f"mjv: error: {exc}\n")
        return EXIT_USAGE
    if getattr(args, "provider", None):  # the same campaign priced on another provider
        fmt = "json" if args.format == "json" else "text"
        return write_comparison(compare(campaign, args.provider), out, fmt)
    campaign, location, default = state_choice(campaign, args.state, args.simulate)
    select = tuple(getattr(args, "select", ()))
    missing = [p for p in select if not any(fnmatchcase(j.name, p) for j in campaign.jobs)]
    if missing:  # a typo, not an empty plan
        err.write(f"mjv: error: --select {missing[0]!r} matches no job of {campaign.name}\n")
        return EXIT_USAGE
    plan = _plan(campaign, location, default, select)
    if args.format == "markdown":
        out.write(markdown(plan))
    elif args.format == "json":
        write_json(plan, out)
    else:
        write_text(plan, out)
    return EXIT_WORK if plan.has_work else EXIT_OK


def _plan(
    campaign: Campaign, location: str | None, default: Path, select: Sequence[str] = ()
) -> Plan:
    """Plan against the state file when there is one (looking never creates it), else against
    the committed manifest (the lock file: what ran), else as all new; with ``select``, only
    the jobs (and orphans) whose names match one of its globs."""
    return _plan_all(campaign, location, default, _selected(select))


def _selected(select: Sequence[str]) -> Callable[[str], bool]:
    return lambda name: not select or any(fnmatchcase(name, p) for p in select)


def _build(
    campaign: Campaign,
    keep: Callable[[str], bool],
    statuses: Mapping[str, JobStatus] | None = None,
    done: Collection[str] = frozenset(),
    orphaned: Sequence[str] = (),
    **details: Any,
) -> Plan:
    """``build_plan`` of the kept jobs only (classified against the whole campaign)."""
    jobs = tuple(job for job in campaign.jobs if keep(job.name))
    if len(jobs) != len(campaign.jobs):
        campaign = replace(campaign, jobs=jobs)
    kept = [name for name in orphaned if keep(name)]
    return build_plan(campaign, statuses, done, kept, **details)


def _plan_all(
    campaign: Campaign, location: str | None, default: Path, keep: Callable[[str], bool]
) -> Plan:
    # Imported here: a plan without state (the CI case) need not load the engine (nor asyncio).
    from orchestrator.state import locate_state, open_state, state_found

    if not state_found(location, default_path=default):
        return _plan_from_manifest(campaign, keep)
    from orchestrator.engine.status import classify, done_keys
    from orchestrator.qc.campaign import failed_checks

    where = locate_state(location, default_path=default)
    with open_state(location, campaign.name, default_path=default) as store:
        subs = {sub.key: sub for sub in store.submissions()}
        records = store.all_files()
        files = files_of_store(records)
        campaign = reviewed(campaign, files)
        classes = classify(campaign, subs, records)
        done = done_keys(campaign, store, time.time())
        money = store.totals()
        failed = failed_checks(store)
    plan = _build(
        campaign,
        keep,
        classes.jobs,
        done,
        classes.orphaned,
        why=classes.why,
        damaged=classes.damaged,
        spent=money.spent,
        in_doubt=money.reserved,
        basis=f"the state {getattr(where, 'shown', where)}",
    )
    plan = replace(plan, qc_failed=failed) if failed else plan
    return _with_review(plan, campaign, files)


def _with_review(plan: Plan, campaign: Campaign, files: Files) -> Plan:
    counts = campaign_counts(campaign, files)
    return plan if counts is None else replace(plan, review=asdict(counts))


def _plan_from_manifest(campaign: Campaign, keep: Callable[[str], bool]) -> Plan:
    from orchestrator.results import MANIFEST_NAME

    path = campaign.output_dir / MANIFEST_NAME
    if not path.exists():  # the CI case of a new campaign: nothing more to load
        return _build(campaign, keep)
    from orchestrator.engine.lockfile import finished_keys, locked_steps
    from orchestrator.engine.manifest import read_results
    from orchestrator.engine.status import classify

    manifest = read_results(path)
    if manifest is None or manifest.campaign != campaign.name:
        return _build(campaign, keep)
    steps, history = locked_steps(manifest)
    files = files_of_manifest(manifest)
    campaign = reviewed(campaign, files)
    # Clips are seldom committed: the lock file vouches for them, the disk is not checked.
    classes = classify(campaign, steps, history=history)
    plan = _build(
        campaign,
        keep,
        classes.jobs,
        finished_keys(steps),
        classes.orphaned,
        why=classes.why,
        spent=manifest.totals.spent,
        basis=f"the committed manifest {path} (no state file)",
    )
    return _with_review(plan, campaign, files)


def markdown(plan: Plan) -> str:
    """A short summary for a pull request (`$GITHUB_STEP_SUMMARY` or a comment)."""
    counts = Counter(row.status for row in plan.rows)
    classes = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    lines = [
        f"### mjv plan: {md_code(plan.campaign)}",
        "",
        f"{plan.totals.jobs} jobs: {classes or 'none'}. Planned against {md_text(plan.basis)}.",
        "",
        f"**Cost of this change: {_cost_text(plan.totals, plan.currency)}** "
        f"({plan.totals.video_submissions} video submissions; spent so far "
        f"{shown(plan.spent, plan.currency)}"
        + (
            f", cap {cap(plan.max_cost or 0.0, plan.currency)}, "
            f"{shown(plan.left, plan.currency)} left after it"
            if plan.left is not None
            else ""
        )
        + ")",
    ]
    if plan.qc_failed:
        lines.append(f"\n{len(plan.qc_failed)} clip(s) failed their checks (never extended)")
    if plan.retakes.retakes:
        lines.append("\n" + worst_case_text(plan.retakes, plan.left).strip())
    if plan.over_budget:
        lines.append("\n:warning: this plan exceeds the budget cap")
    lines += review_lines(plan)
    changed = [row for row in plan.rows if row.has_work]
    if changed:
        lines += ["", "| job | status | cost | what changed |", "|---|---|---|---|"]
        lines += [
            f"| {md_code(r.name)} | {r.status} | {_md_cost(r, plan.currency)} | "
            f"{md_text(_reason(r))} |"
            for r in changed
        ]
    return "\n".join(lines) + "\n"


_REASONS = {JobStatus.NEW: "new job", JobStatus.FAILED: "failed before"}


def _md_cost(row: PlanRow, currency: str) -> str:
    if not row.unpriced:
        return shown(row.known_cost, currency)
    known = f"{shown(row.known_cost, currency)} + " if row.known_cost else ""
    return f"{known}{row.unpriced} unpriced"


def _reason(row: PlanRow) -> str:
    if row.why:
        return "; ".join(row.why)
    return "; ".join(row.damaged) or _REASONS.get(row.status, "unfinished")


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
    # A chunk of rows per write; ", " joins chunks as it joins list items.
    out.write("[")
    shared: dict[Any, str] = {}
    for start in range(0, len(rows), _CHUNK):
        chunk = ", ".join(_row_text(row, shared) for row in rows[start : start + _CHUNK])
        out.write((", " if start else "") + chunk)
    out.write("]")


def _row_text(row: PlanRow, shared: dict[Any, str]) -> str:
    """``_row_json(row)`` as JSON text, made without building it (see plan_rows)."""
    return row_text(row, shared, _piece)


def _piece(thing: ImageSource | Settings) -> dict[str, Any]:
    return _image_json(thing) if isinstance(thing, ImageSource) else _settings_json(thing)


def _head_json(plan: Plan) -> dict[str, Any]:
    return {
        "campaign": plan.campaign,
        "currency": plan.currency,
        "spec": plan.spec_path,
        "output_dir": plan.output_dir,
        "max_cost": plan.max_cost,
        "over_budget": plan.over_budget,
        "spent": plan.spent,
        "basis": plan.basis,
        "in_doubt": plan.in_doubt,
        "left": plan.left,
        "totals": {**asdict(plan.totals), "unpriced": dict(plan.totals.unpriced)},
        "review": dict(plan.review),
        **({"retakes": asdict(plan.retakes)} if plan.retakes.retakes else {}),
        **({"qc_failed": list(plan.qc_failed)} if plan.qc_failed else {}),
    }


def _row_json(row: PlanRow, shared: dict[int, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": row.name,
        "fingerprint": row.fingerprint,
        "status": row.status,
        "submissions": row.video_submissions,
        "seconds": row.seconds,
        "why": row.why,  # tuples encode as JSON arrays
        "damaged": row.damaged,
        "cost": {"total": row.cost, "known": row.known_cost, "unpriced": row.unpriced},
    }
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
        "extensions": [asdict(step) for step in job.extensions],
        **({"waiting": [asdict(step) for step in job.awaiting]} if job.awaiting else {}),
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
    out.write(f"campaign {plan.campaign} ({one_line(plan.spec_path)})\n")
    out.write(f"output   {one_line(plan.output_dir)}\nagainst  {one_line(plan.basis)}\n\n")
    for row in plan.rows:
        _write_row(row, out, plan.currency)
    out.write(_totals_text(plan.totals, plan.currency))
    if plan.review:
        out.write(f"clips: {verdict_counts(plan.review)}\n")
    out.write(worst_case_text(plan.retakes, plan.left))
    out.writelines(f"failed its checks: {line} (never extended)\n" for line in plan.qc_failed)
    out.write(_budget_text(plan))


def _write_row(row: PlanRow, out: TextIO, currency: str) -> None:
    # Spec text shown one line per field: a newline in it cannot start a line of its own.
    mark, name = _MARKS.get(row.status, "?"), one_line(row.name)
    out.write(f"{mark} {name} [{row.status}] {row.fingerprint[:12]}\n")
    out.writelines(f"    changed  {one_line(line)}\n" for line in row.why)
    out.writelines(
        f"    file     {one_line(line)}: a run downloads it again\n" for line in row.damaged
    )
    job = row.job
    if job is None:
        return
    if row.video_submissions:
        out.write(f"    cost     {_row_cost(row, currency)}\n")
    s = job.settings
    out.write(f"    image    {one_line(f'{job.image.name} ({_image_text(job.image)})')}\n")
    if job.end_image is not None:
        end = f"{job.end_image.name} ({_image_text(job.end_image)})"
        out.write(f"    end      {one_line(end)}\n")
    prompt = f"{job.prompt_name}: {job.prompt}" if job.prompt_name else "(automatic)"
    out.write(f"    prompt   {one_line(prompt)}\n")
    flags = "".join(f" {flag}" for flag, on in (("loop", s.loop), ("raw", s.raw)) if on)
    out.write(f"    settings {s.mode} {s.video_type} {s.animate} motion={s.motion}")
    on = f" on {job.provider}" if job.provider != DEFAULT_PROVIDER else ""
    out.write(f" batch={s.batch_size} take={job.take}{flags}{on}\n")
    for step in job.extensions:
        text = step.prompt if step.prompt is not None else "(automatic)"
        out.write(
            f"    extend {step.step} clip {step.index} motion={step.motion} {step.fingerprint[:12]}"
        )
        out.write(f": {one_line(text)}\n")
    for waiting in job.awaiting:
        which = "the approved clip" if waiting.index is None else f"clip {waiting.index}"
        out.write(f"    waiting  extension {waiting.step} of {which}: approve a clip to plan it\n")


def _row_cost(row: PlanRow, currency: str) -> str:
    """A row's cost: the known part, and how many of its submissions have no price."""
    count = f"{row.video_submissions} video submission{'s' if row.video_submissions > 1 else ''}"
    if not row.unpriced:
        return f"{shown(row.known_cost, currency)} ({count})"
    key = row.job.settings.price_key if row.job else "?"
    return f"unknown ({count} without a price: no '{key}' under pricing:)"


def _image_text(image: ImageSource) -> str:
    if image.kind == "url":
        return f"url {image.url}"
    if image.kind == "file":
        return f"file {image.path}, sha256 {(image.sha256 or '')[:12]}"
    return f"imagine {image.imagine!r} pick {image.pick}"


def _budget_text(plan: Plan) -> str:
    """Spent so far, this plan's cost, and what the cap leaves: the run's budget in view."""
    text = f"spent so far: {shown(plan.spent, plan.currency)}"
    if plan.in_doubt:
        text += f" (+{shown(plan.in_doubt, plan.currency)} possibly charged: sent, answer lost)"
    text += f"; this plan: {_cost_text(plan.totals, plan.currency)}\n"
    if plan.max_cost is None:
        return text + "budget: no cap\n"
    left = plan.left or 0.0
    left_text = f"{shown(left, plan.currency)} left after it"
    verdict = "EXCEEDED by the known cost" if plan.over_budget else left_text
    return text + f"budget: cap {cap(plan.max_cost, plan.currency)}, {verdict}\n"


def _totals_text(totals: Totals, currency: str) -> str:
    lines = [
        f"\n{totals.jobs} jobs, {totals.to_do} to do"
        + (f", {totals.waiting} waiting for review" if totals.waiting else ""),
        f"{totals.video_submissions} video submissions (extensions included)"
        + (
            f", {totals.imagine_submissions} imagine/upscale submissions"
            if totals.imagine_submissions
            else ""
        )
        + (f", {totals.upload_submissions} uploads" if totals.upload_submissions else ""),
        f"{totals.seconds:g} seconds of video",
        f"estimated cost: {_cost_text(totals, currency)}",
    ]
    return "\n".join(lines) + "\n"


def _cost_text(totals: Totals, currency: str) -> str:
    if totals.cost is not None:
        return shown(totals.cost, currency)
    missing = ", ".join(f"{count} {mode}" for mode, count in sorted(totals.unpriced.items()))
    known = shown(totals.known_cost, currency)
    return f"unknown (no price for {missing} submissions; known part {known})"
