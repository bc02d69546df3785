"""Command-line entry point: parses argv and dispatches to one command module per verb."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import io
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TextIO, cast

from orchestrator import __version__
from orchestrator.cliguide import GuidingParser, decorate
from orchestrator.engine.progress import GuardedStream
from orchestrator.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, MjvError, SpecError
from orchestrator.providers import KEY_VARIABLES, PROVIDER_NAMES
from orchestrator.terminal import SafeStream

# The simulator's bad clips (simulator/footage.py FAULTS; not imported: it loads PyAV).
CLIP_FAULTS = ("frozen", "black", "flicker", "short", "undecodable", "unrelated")
VERDICT_VERBS = ("approve", "reject", "unreview")  # one parser function makes all three


def _add_validate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check spec files against the schema and semantics",
        description="Exit 0 when every spec is valid, 1 when one is not, 64 for an unreadable "
        "path or a bad option.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files, or folders searched")
    p.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip matching paths"
    )
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
        description="Exit 0 when there is nothing to do, 2 when there is work, 1 on an error, "
        "64 for a bad option or path.",
    )
    p.add_argument("spec", metavar="SPEC")
    p.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="output format (markdown: a short summary for a pull request)",
    )
    p.add_argument("--state", metavar="PATH", help="state file (default .mjv/state.db)")
    p.add_argument("--simulate", action="store_true", help="the state `run --simulate` keeps")
    p.add_argument("--select", action="append", default=[], metavar="GLOB", help="only these jobs")
    _add_provider(p, "price the same campaign on this provider instead (the spec unchanged)")


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
    p.add_argument("--yes", action="store_true", help="pay again without asking (--force, ...)")
    p.add_argument("--notify", metavar="URL", help="POST a JSON summary here when the run ends")


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="submit, poll, extend and download a campaign")
    _add_run_options(p)
    p.add_argument(
        "--force",
        action="append",
        default=[],
        metavar="GLOB",
        help="regenerate these jobs (pays again: asks first)",
    )


def _add_retry(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("retry", help="retry failed jobs (retryable ones, or all with a flag)")
    _add_run_options(p)
    p.add_argument(
        "--include-final", action="store_true", help="final failures too (pays again: asks first)"
    )


def _add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="show the state of a campaign")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--state", metavar="PATH", help="state file (default .mjv/state.db)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--simulate", action="store_true", help="the state `run --simulate` keeps")


def _add_qc(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("qc", help="check downloaded clips: scores, pass/fail, pictures")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--select", action="append", default=[], metavar="GLOB", help="jobs to check")
    p.add_argument("--state", metavar="PATH", help="state file (default .mjv/state.db)")
    p.add_argument("--simulate", action="store_true", help="the state `run --simulate` keeps")


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
    p.add_argument("--credits", type=int, metavar="N", help="charged calls before quota error")
    p.add_argument("--api-key", default="sk-simulator", help="key the simulator accepts")
    _add_provider(p, "the provider whose wire format the simulator speaks")
    _add_simulate_rev2(p)


def _add_simulate_rev2(p: argparse.ArgumentParser) -> None:
    """The simulator options of API.md revision 2 (see docs/simulator.md's table)."""
    add, share, seconds = p.add_argument, _fraction, _non_negative_float
    add("--queue-full-style", choices=("9", "23"), default="9", help="queue full as code 9 or 23")
    add("--moderation-style", choices=("zh", "en"), default="zh", help="moderation failReason")
    add("--honor-idempotency-key", action="store_true", help="a repeated key answers code 21")
    add("--quota-style", choices=("en", "zh"), default="en", help="quota error text")
    add("--relay-error", type=share, default=0.0, metavar="P", help="HTTP 400 code 5 share")
    add("--state-unknown", type=share, default=0.0, metavar="P", help="charged, then 400 share")
    add("--refusal", type=share, default=0.0, metavar="P", help="HTTP 200 success:false share")
    add("--account-locked", action="store_true", help="refuse every submit: account locked")
    add("--core-size", type=_positive_int, metavar="N", help="user's unfinished-task limit")
    add("--queue-size", type=_positive_int, metavar="N", help="user's waiting-task limit")
    add("--day-draw-limit", type=_non_negative_int, metavar="N", help="user's tasks per day")
    add("--total-draw-limit", type=_non_negative_int, metavar="N", help="user's tasks in all")
    add("--no-hd", dest="hd", action="store_false", help="HD creates answer code 3")
    add("--upload-ttl", type=seconds, default=86400.0, metavar="S", help="upload URL lifetime")
    add("--clip-ttl", type=seconds, metavar="S", help="clip URL lifetime after the finish")
    add("--require-browser-ua", action="store_true", help="CDN answers 403 to non-browsers")
    add("--queue-seconds", type=seconds, default=0.0, metavar="S", help="extra NOT_START wait")
    add("--raw-queue-code", action="store_true", help="queued submits answer code 22, not 1")
    add("--stall", type=share, default=0.0, metavar="P", help="tasks that never finish")
    add("--gateway-timeout", type=seconds, default=3600.0, metavar="S", help="task time limit")
    add("--blank-status-seconds", type=seconds, default=0.0, metavar="S", help='status ""')
    add("--price", action="append", default=[], type=_price, metavar="KIND=X", help="a price")
    add("--world", metavar="FILE", help="keep the provider's world in FILE across restarts")
    add(
        "--clip-fault", choices=CLIP_FAULTS, default="", help="the defect of bad clips (docs/qc.md)"
    )
    add("--clip-fault-share", type=share, default=0.0, metavar="P", help="share of bad clips")
    add("--clip-fault-word", default="", metavar="WORD", help="bad clips for prompts with WORD")


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _price(text: str) -> tuple[str, float]:
    kind, sep, amount = text.partition("=")
    if not sep or not kind:
        raise argparse.ArgumentTypeError(f"expected KIND=AMOUNT, got {text}")
    return kind, _non_negative_float(amount)


def _add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the API key and base URL without spending anything",
        description="One authenticated call that creates no task (a list of no task ids): "
        "says whether the gateway was reached, whether the key was accepted, and the latency. "
        "Exit 0 when both are fine, 1 otherwise.",
    )
    p.add_argument("--base-url", metavar="URL", help="provider base URL (or MJV_BASE_URL)")
    _add_provider(p, "the provider to check (its own key and URL variables)")


def _add_provider(p: argparse.ArgumentParser, what: str) -> None:
    names = ", ".join(PROVIDER_NAMES)
    p.add_argument("--provider", choices=PROVIDER_NAMES, metavar="NAME", help=f"{what}: {names}")


def _add_state(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("state", help="manage campaign state (SQLite files, PostgreSQL)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    copy = actions.add_parser(
        "copy",
        help="copy campaigns' state from one location to another",
        description="FROM and TO are state files or postgresql:// URLs. Refuses to overwrite "
        "a campaign TO already has.",
    )
    copy.add_argument("source", metavar="FROM", help="state file or postgresql:// URL")
    copy.add_argument("target", metavar="TO", help="state file or postgresql:// URL")
    copy.add_argument("--campaign", metavar="NAME", help="copy only this campaign (default all)")


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="write report.html: every job's images, prompts and clips")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--state", metavar="PATH", help="state file (default .mjv/state.db)")
    p.add_argument("--simulate", action="store_true", help="report the simulated run's output")
    p.add_argument("--open", action="store_true", help="open the report in the web browser")


def _add_review(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "review",
        help="serve the report with approve/reject controls on 127.0.0.1 until Ctrl-C",
        description="Prints the page's URL (with its token) as the first line, opens it in the "
        "browser unless --no-open; every verdict is written to <spec>.review.yaml at once.",
    )
    _add_review_source(p)
    p.add_argument("--port", type=_non_negative_int, default=0, help="port (default: a free one)")
    p.add_argument("--no-open", action="store_true", help="do not open the web browser")
    p.add_argument("--by", metavar="NAME", help="reviewer name (default git user.name)")


def _add_review_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--state", metavar="PATH", help="state file (default .mjv/state.db)")
    p.add_argument("--simulate", action="store_true", help="the simulated run's clips")


def _add_verdicts(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    helps = {
        "approve": "approve clips (one per step: it replaces an earlier approval of that step)",
        "reject": "reject clips",
        "unreview": "forget the verdicts, stars and notes of clips",
    }
    for verb in VERDICT_VERBS:
        text = helps[verb]
        p = sub.add_parser(
            verb,
            help=text,
            description="CLIP is <job folder>/<file> as the "
            "manifest names it (hero-wave/clip-2.mp4); a glob names several.",
        )
        _add_review_source(p)
        p.add_argument("clips", nargs="+", metavar="CLIP")
        if verb != "unreview":
            p.add_argument("--stars", type=_stars, metavar="N", help="rating 1-5")
            p.add_argument("--note", metavar="TEXT", help="a note on the clip")
            p.add_argument("--by", metavar="NAME", help="reviewer name (default git user.name)")
        if verb == "approve":
            p.add_argument("--force", action="store_true", help="approve a clip that failed QC")
        p.set_defaults(module="approve")


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="copy the approved final clips into DIR, with export.json and export.csv",
        description="Each job's final clip of its approved chain (--all: every final clip of "
        "every finished job), verified against the manifest's sha256; never overwrites a "
        "different file.",
    )
    _add_review_source(p)
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--all", action="store_true", help="every final clip, approved or not")


def _stars(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"must be 1 to 5, got {text}")
    return value


def _add_init(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", help="make a ready campaign repository (never overwrites)")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="default: this folder")
    p.add_argument(
        "--mjv-source", metavar="REQ", help="what CI and pre-commit install (default: mjv==VERSION)"
    )


def _add_completion(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("completion", help="print a shell completion script")
    p.add_argument("shell", choices=("bash", "zsh"), metavar="SHELL", help="bash or zsh")
    p.set_defaults(build_parser=build_parser)


_VERBS = (
    _add_init,
    _add_validate,
    _add_plan,
    _add_run,
    _add_status,
    _add_retry,
    _add_simulate,
    _add_doctor,
    _add_state,
    _add_report,
    _add_review,
    _add_verdicts,
    _add_export,
    _add_completion,
    _add_qc,
)


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


def _verbs_of(
    add: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None],
) -> tuple[str, ...]:
    return VERDICT_VERBS if add is _add_verdicts else (add.__name__.removeprefix("_add_"),)


# verb -> the function adding its parser (and its siblings: approve, reject and unreview)
_ADDERS = {verb: add for add in _VERBS for verb in _verbs_of(add)}


def _verb_in(argv: Sequence[str]) -> str | None:
    """The verb of ``argv`` when nothing but --debug comes before it, else None (``--help``,
    ``--version``, a typo: the whole parser decides)."""
    for word in argv:
        if word != "--debug":
            return word if word in _ADDERS else None
    return None


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser for every verb, or one that knows only ``verb``'s (its
    parser, help and errors the same): building all fifteen costs a start 7 ms."""
    parser: argparse.ArgumentParser = GuidingParser(
        prog="mjv",
        description="Run Midjourney video campaigns from YAML specs: validate and plan them, "
        "run them idempotently, and see their status.",
    )
    parser.add_argument("--version", action="version", version=f"mjv {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an internal error"
    )
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in _VERBS if verb is None else (_ADDERS[verb],):
        add(sub)
    decorate(parser)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run mjv with ``argv`` and return the exit code."""
    real = out is None and err is None
    if real:
        _fill_closed_std_fds()
        _skip_httpx_cli()
    guarded_out = GuardedStream(out or sys.stdout or io.StringIO())
    guarded_err = GuardedStream(err or sys.stderr or io.StringIO())
    # Every text a command writes is neutralised (see orchestrator.terminal), keys removed.
    keys = [os.environ.get(name, "").strip() for name in KEY_VARIABLES]
    safe_out = SafeStream(cast(TextIO, guarded_out), keys)
    safe_err = SafeStream(cast(TextIO, guarded_err), keys)
    try:
        return _dispatch(argv, cast(TextIO, safe_out), cast(TextIO, safe_err))
    finally:
        safe_out.flush()
        safe_err.flush()
        if real:
            _settle(guarded_out)
            _settle(guarded_err)
            # The process ends next; its last collection and the teardown of what it frees
            # took 80-130 ms after a run (0.5 s for four runners ending at once on two cores).
            # Everything the command opened is closed by now: the OS takes the memory back.
            gc.freeze()


def _dispatch(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    """Parse, run the verb, and turn every error into a message and an exit code."""
    try:
        words = sys.argv[1:] if argv is None else argv
        args = build_parser(_verb_in(words)).parse_args(words)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return EXIT_USAGE if exc.code else 0
    try:
        # Commands are imported lazily so that `mjv validate` never pays for httpx or sqlite.
        module = getattr(args, "module", args.verb)  # approve, reject, unreview share one
        command = importlib.import_module(f"orchestrator.commands.{module}")
        code: int = command.run(args, out, err)
    except MjvError as exc:
        if isinstance(exc, SpecError):  # every problem, each pointing at its line
            err.writelines(f"{problem}\n" for problem in _formatted(exc.problems))
        err.write(f"mjv: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("mjv: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one boundary for bugs: one line, the traceback on request
        if args.debug:
            err.write(traceback.format_exc())
        err.write(
            f"mjv: internal error in {args.verb!r}: {type(exc).__name__}: {exc}; please report "
            "it (run with --debug for the traceback)\n"
        )
        return EXIT_ERROR
    return code


def _skip_httpx_cli() -> None:
    """Keep httpx from importing its own command-line client into mjv's process.

    httpx's package tries ``httpx._main`` at import, which imports click, pygments and rich
    when they are installed (its ``cli`` extra, or other tools' dependencies, as here: click
    and pygments, rich missing): 20 ms of CPU at every start of a verb that speaks HTTP, for a
    CLI mjv never runs. A None entry in ``sys.modules`` makes that one import fail at once, and
    httpx defines its stub ``main`` as it does without the extra (the ``httpx`` command, a
    process of its own, is untouched).
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _fill_closed_std_fds() -> None:
    """Point a closed stdin/stdout/stderr at /dev/null, so no file we open takes its number."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _settle(stream: GuardedStream) -> None:
    """Flush now; a reader that went away gets /dev/null, so Python's exit flush stays quiet."""
    stream.flush()
    if not stream.broken:
        return
    # https://docs.python.org/3/library/signal.html#note-on-sigpipe
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.stream.fileno())
        os.close(null)
