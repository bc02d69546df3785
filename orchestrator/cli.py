"""Command-line entry point: parses argv and dispatches to one command module per verb."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import TextIO

from orchestrator import __version__
from orchestrator.errors import EXIT_INTERRUPTED, EXIT_USAGE, MjvError, SpecError


def _add_validate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check spec files against the schema and semantics",
        description="Exit 0 when every spec is valid, 1 when one is not, 2 for an unreadable path.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders of *.yaml")
    p.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text (file:line:col: path: message), json, or GitHub Actions annotations",
    )


def _add_plan(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="show what a run would submit and cost",
        description="Exit 0 when there is nothing to do, 2 when there is work, 1 on an error.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--state", metavar="PATH", help="state file (default .mjv/state.db)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--state", metavar="PATH", help="state file (default .mjv/state.db)")
    p.add_argument("--concurrency", type=_positive_int, metavar="N", help="job slots in flight")
    p.add_argument("--max-rps", type=_positive_float, metavar="X", help="requests per second")
    p.add_argument("--poll-interval", type=_positive_float, metavar="S", help="seconds per poll")
    p.add_argument("--task-timeout", type=_positive_float, metavar="S", help="stuck task limit")
    p.add_argument("--submit-ahead", type=_non_negative_int, metavar="K", help="queue K extra jobs")
    p.add_argument("--max-cost", type=_positive_float, metavar="X", help="spending cap")
    p.add_argument("--select", action="append", default=[], metavar="GLOB", help="only these jobs")
    p.add_argument(
        "--in-doubt",
        choices=("resubmit", "skip"),
        default="resubmit",
        help="a submission sent but never answered: send again (may be charged twice) or skip",
    )
    p.add_argument("--base-url", metavar="URL", help="provider base URL (or MJV_BASE_URL)")
    p.add_argument("--simulate", action="store_true", help="run against the built-in simulator")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--json-log", action="store_true", help="log events as JSON lines")


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="submit, poll, extend and download a campaign")
    _add_run_options(p)
    p.add_argument("--force", action="append", default=[], metavar="GLOB", help="regenerate jobs")


def _add_retry(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("retry", help="retry failed jobs (retryable ones, or all with a flag)")
    _add_run_options(p)
    p.add_argument("--include-final", action="store_true", help="retry final failures too")


def _add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="show the state of a campaign")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--state", metavar="PATH", help="state file (default .mjv/state.db)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("simulate", help="serve the built-in provider simulator on loopback")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--job-seconds", type=_positive_float, default=2.0, metavar="S")
    p.add_argument("--slots", type=_positive_int, default=3, metavar="K")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate-limit", type=_fraction, default=0.0, metavar="P", help="429 share")
    p.add_argument("--retry-after", type=float, default=1.0, metavar="S")
    p.add_argument("--server-error", type=_fraction, default=0.0, metavar="P", help="5xx share")
    p.add_argument("--queue-full", type=_fraction, default=0.0, metavar="P")
    p.add_argument("--banned-word", action="append", default=[], metavar="WORD")
    p.add_argument("--fail-rate", type=_fraction, default=0.0, metavar="P", help="task failures")
    p.add_argument("--slow", type=float, default=0.0, metavar="S", help="delay every response")
    p.add_argument("--drop-after-submit", type=_fraction, default=0.0, metavar="P")
    p.add_argument("--credits", type=int, metavar="N", help="charged submits before quota error")
    p.add_argument("--api-key", default="sk-simulator", help="key the simulator accepts")


_VERBS = (_add_validate, _add_plan, _add_run, _add_status, _add_retry, _add_simulate)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _formatted(problems: Sequence[object]) -> list[str]:
    return [p.format() if hasattr(p, "format") else str(p) for p in problems]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every verb."""
    parser = argparse.ArgumentParser(
        prog="mjv",
        description="Run Midjourney video campaigns from YAML specs: validate and plan them, "
        "run them idempotently, and see their status.",
    )
    parser.add_argument("--version", action="version", version=f"mjv {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in _VERBS:
        add(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run mjv with ``argv`` and return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return EXIT_USAGE if exc.code else 0
    # Commands are imported lazily so that `mjv validate` never pays for httpx or sqlite.
    command = importlib.import_module(f"orchestrator.commands.{args.verb}")
    try:
        code: int = command.run(args, out, err)
    except MjvError as exc:
        if isinstance(exc, SpecError):  # every problem, each pointing at its line
            err.writelines(f"{problem}\n" for problem in _formatted(exc.problems))
        err.write(f"mjv: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("mjv: interrupted\n")
        return EXIT_INTERRUPTED
    return code
