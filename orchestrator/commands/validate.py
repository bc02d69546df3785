"""`mjv validate PATH...`: check spec files and report every problem with its line and column."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from orchestrator.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, SpecError, UsageError
from orchestrator.review.reviewfile import (
    ReviewError,
    check_review,
    is_review_file,
    load_review,
    review_path,
)
from orchestrator.spec import Problem, validate_spec
from orchestrator.spec.discovery import find_specs
from orchestrator.spec.problems import internal_error
from orchestrator.terminal import annotation_data, annotation_property, write_raw


@dataclass(frozen=True)
class FileResult:
    """The outcome of checking one path: a job count, problems, or an unreadable-path error."""

    file: str
    jobs: int | None = None
    problems: tuple[Problem, ...] = ()
    error: str | None = None
    noun: str = "jobs"  # what ``jobs`` counts: a review file counts its verdicts

    @property
    def valid(self) -> bool:
        """True when the spec loaded without problems."""
        return self.jobs is not None


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate every spec under ``args.paths`` and print the findings in ``args.format``."""
    paths = collect_paths(args.paths, getattr(args, "exclude", ()))
    results = [result for path in paths for result in check_with_review(path)]
    {"text": _write_text, "json": _write_json, "github": _write_github}[args.format](results, out)
    for result in results:
        if result.error is not None and args.format != "json":
            err.write(f"mjv: error: {result.error}\n")
    return exit_code(results)


def collect_paths(paths: list[str], exclude: Iterable[str] = ()) -> list[str]:
    """Expand folders to the specs found in them, recursively; keep other paths as given."""
    found: list[str] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            specs = [p for p in find_specs(path, exclude) if not is_review_file(p)]
            found.extend([str(p) for p in specs] or [text])
        else:
            found.append(text)
    return list(dict.fromkeys(found))


def check_with_review(text: str) -> list[FileResult]:
    """Check one path: a spec and the review file beside it, or a review file by itself."""
    path = Path(text)
    if is_review_file(path):
        return [_check_review(path)]
    found = review_path(path)
    return [check_path(text)] + ([_check_review(found)] if found.is_file() else [])


def _check_review(path: Path) -> FileResult:
    if not path.is_file():
        return FileResult(str(path), error=f"{path}: no such file")
    try:
        problems = check_review(path)
    except ReviewError as exc:
        return FileResult(str(path), error=str(exc))
    if problems:
        return FileResult(str(path), problems=problems)
    return FileResult(str(path), jobs=len(load_review(path).verdicts), noun="verdicts")


def check_path(text: str) -> FileResult:
    """Load one spec and turn the outcome into a FileResult."""
    path = Path(text)
    if path.is_dir():
        return FileResult(
            text, error=f"{text}: no *.yaml or *.yml files in this folder or below it"
        )
    try:
        jobs = validate_spec(path)
    except UsageError as exc:
        return FileResult(text, error=str(exc))
    except SpecError as exc:
        return FileResult(text, problems=tuple(p for p in exc.problems if isinstance(p, Problem)))
    except Exception as exc:  # one file's bug must not stop the others from being checked
        return FileResult(text, problems=(Problem(text, 1, 1, "$", internal_error(exc)),))
    return FileResult(text, jobs=jobs)


def exit_code(results: list[FileResult]) -> int:
    """2 when a path was unreadable, else 1 when a spec is invalid, else 0."""
    if any(result.error is not None for result in results):
        return EXIT_USAGE
    return EXIT_OK if all(result.valid for result in results) else EXIT_ERROR


def _write_text(results: list[FileResult], out: TextIO) -> None:
    for result in results:
        if result.valid:
            out.write(f"{result.file}: ok ({result.jobs} {result.noun})\n")
        out.writelines(f"{problem.format()}\n" for problem in result.problems)
    out.write(_summary(results) + "\n")


def _write_json(results: list[FileResult], out: TextIO) -> None:
    files = [
        {
            "file": r.file,
            "valid": r.valid,
            "jobs": r.jobs,
            "error": r.error,
            "problems": [asdict(problem) for problem in r.problems],
        }
        for r in results
    ]
    report = {"valid": exit_code(results) == EXIT_OK, "files": files}
    out.write(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _write_github(results: list[FileResult], out: TextIO) -> None:
    for result in results:
        # mjv's own workflow commands, so written raw; their texts are escaped for them.
        if result.error is not None:
            write_raw(out, f"::error::{annotation_data(result.error)}\n")
        for p in result.problems:
            where = f"file={annotation_property(p.file)},line={p.line},col={p.col}"
            write_raw(out, f"::error {where}::{annotation_data(f'{p.path}: {p.message}')}\n")
    out.write(_summary(results) + "\n")


def _summary(results: list[FileResult]) -> str:
    invalid = sum(bool(result.problems) for result in results)
    unreadable = sum(result.error is not None for result in results)
    problems = sum(len(result.problems) for result in results)
    text = f"{len(results)} file(s) checked: {len(results) - invalid - unreadable} valid"
    text += f", {invalid} invalid ({problems} problem(s))" if invalid else ""
    return text + (f", {unreadable} unreadable" if unreadable else "")
