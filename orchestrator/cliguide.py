"""Help that helps: descriptions and examples for every verb, and "did you mean" on typos.

Verbs are read from the parser itself, so a verb added to the CLI shows up here (and in the
completion scripts and the CLI reference) without a list to keep in step.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterator, Sequence
from typing import NoReturn

# verb -> (a one-line description when its parser has none, examples with what each does)
GUIDE: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "init": (
        "Make a ready campaign repository: a starter spec, assets, .gitignore, CI and "
        "pre-commit. Never overwrites a file.",
        (
            ("mjv init my-campaigns", "a new repository in ./my-campaigns"),
            ("mjv init .", "add what is missing to the current repository"),
        ),
    ),
    "validate": (
        "Check specs against the schema and semantics, every problem with its line.",
        (
            ("mjv validate campaigns/", "every spec under campaigns/, recursively"),
            ("mjv validate . --exclude 'drafts/*'", "skip a folder"),
            ("mjv validate --format github campaigns/", "annotations on a pull request"),
        ),
    ),
    "plan": (
        "Show every job a run would submit and what it would cost. Spends nothing.",
        (
            ("mjv plan campaigns/spring/campaign.yaml", "what is new, changed or failed"),
            ("mjv plan spec.yaml --format markdown", "a summary for a pull request"),
        ),
    ),
    "run": (
        "Submit, poll, extend and download every job that is not done yet. Idempotent: "
        "a second run of an unchanged spec pays nothing.",
        (
            ("mjv run spec.yaml --simulate", "rehearse against the built-in simulator, free"),
            ("mjv run spec.yaml", "the real run (MJV_API_KEY from the environment)"),
            ("mjv run spec.yaml --force 'hero-*' --yes", "pay again for these jobs, no question"),
        ),
    ),
    "status": (
        "Show how far a campaign is: jobs per state, failures, money spent.",
        (
            ("mjv status spec.yaml", "the real run's state"),
            ("mjv status spec.yaml --simulate", "the simulated run's state"),
        ),
    ),
    "retry": (
        "Give failed jobs a new attempt: retryable failures, or final ones too with a flag.",
        (
            ("mjv retry spec.yaml", "retry what may succeed on a new attempt"),
            ("mjv retry spec.yaml --include-final --yes", "final failures too (pays again)"),
        ),
    ),
    "simulate": (
        "Serve the built-in provider simulator on loopback until Ctrl-C.",
        (("mjv simulate --port 8765", "then: export MJV_BASE_URL=http://127.0.0.1:8765"),),
    ),
    "doctor": (
        "Check the API key and the base URL without spending anything.",
        (("mjv doctor", "one call that creates no task"),),
    ),
    "state": (
        "Manage campaign state: copy it between SQLite files and PostgreSQL.",
        (("mjv state copy .mjv/state.db postgresql://db/mjv", "share a campaign's state"),),
    ),
    "report": (
        "Write report.html beside the manifest: every job's images, prompts and clips.",
        (("mjv report spec.yaml --open", "write it and open it in the browser"),),
    ),
    "review": (
        "Review the clips in the browser: the report with approve and reject buttons.",
        (
            ("mjv review spec.yaml", "serve it on 127.0.0.1 and open it"),
            ("mjv review spec.yaml --simulate --no-open", "the simulated clips; print the URL"),
        ),
    ),
    "qc": (
        "Check the downloaded clips (scores, pass or fail, pictures); exit 1 when any fails.",
        (
            ("mjv qc spec.yaml", "check every clip not yet checked as it is"),
            ("mjv qc spec.yaml --select 'hero-*' --simulate", "some jobs, of the simulated run"),
        ),
    ),
    "approve": (
        "Approve clips from the command line (the review file beside the spec records it).",
        (
            ("mjv approve spec.yaml hero-wave/clip-2.mp4 --stars 5", "approve one clip"),
            ("mjv approve spec.yaml 'hero-*/ext1-clip-0.mp4'", "a glob names several"),
        ),
    ),
    "reject": (
        "Reject clips from the command line, with a note if you like.",
        (("mjv reject spec.yaml hero-wave/clip-1.mp4 --note 'jittery'", "reject one clip"),),
    ),
    "unreview": (
        "Forget the verdicts, stars and notes of clips.",
        (("mjv unreview spec.yaml 'hero-wave/*'", "every clip of a job"),),
    ),
    "export": (
        "Copy the approved final clips into a folder, with export.json and export.csv.",
        (
            ("mjv export spec.yaml delivery/", "the approved clips"),
            ("mjv export spec.yaml delivery/ --all", "every final clip, approved or not"),
        ),
    ),
    "completion": (
        "Print a shell completion script for bash or zsh.",
        (
            ('eval "$(mjv completion bash)"', "in ~/.bashrc"),
            ('eval "$(mjv completion zsh)"', "in ~/.zshrc"),
        ),
    ),
}


def verb_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's verbs (its first subparsers action), in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every ``--flag`` a parser takes (its own, not its verbs')."""
    return [s for action in parser._actions for s in action.option_strings if s.startswith("--")]


def examples(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """The examples shown in a verb's help (empty when it has none)."""
    return list(getattr(parser, "mjv_examples", ()))


def decorate(parser: argparse.ArgumentParser) -> None:
    """Give every verb a description and an examples epilog (from GUIDE)."""
    for verb, sub in verb_parsers(parser).items():
        description, shown = GUIDE.get(verb, ("", ()))
        own = sub.description or ""
        sub.description = " ".join(part for part in (description, own) if part) or None
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        if sub.description:
            sub.description = _wrap(sub.description)
        if shown:
            sub.mjv_examples = shown  # type: ignore[attr-defined]
            width = max(len(command) for command, _ in shown) + 2
            lines = [f"  {command:<{width}}# {what}" for command, what in shown]
            sub.epilog = "examples:\n" + "\n".join(lines)
    parser.epilog = "Run `mjv VERB --help` for a verb's options and examples."


def _wrap(text: str, width: int = 78) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


class GuidingParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors suggest the verb or flag that was meant."""

    argv: Sequence[str] = ()

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parse, remembering the words so that an error can name the verb they were for."""
        GuidingParser.argv = tuple(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """Print usage and the message, with a "did you mean" when a close match exists."""
        hint = self._suggestion(message)
        # A mistyped --notify leaves its URL among the unrecognized words: a webhook's secret
        # lives in its path or query, so usage errors show URLs only up to the host.
        super().error(re.sub(r"(\w+://[^/\s?#]+)\S*", r"\1/...", message) + hint)

    def _suggestion(self, message: str) -> str:
        choice = re.search(r"invalid choice: '([^']*)'", message)
        if choice:
            return _did_you_mean(choice.group(1), self._choices_of_message(message))
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if unknown:
            return _did_you_mean(unknown.group(1).split("=")[0], self._flags_in_use())
        return ""

    def _choices_of_message(self, message: str) -> list[str]:
        listed = re.search(r"\(choose from (.*)\)", message)
        return re.findall(r"'([^']*)'", listed.group(1)) if listed else []

    def _flags_in_use(self) -> list[str]:
        verbs = verb_parsers(self)
        flags = option_strings(self)
        for word in GuidingParser.argv:
            if word in verbs:
                flags += option_strings(verbs[word])
                flags += [
                    f for sub in verb_parsers(verbs[word]).values() for f in option_strings(sub)
                ]
                break
        return flags


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser with its verb path: the root, each verb, each verb's actions."""
    yield path, parser
    for verb, sub in verb_parsers(parser).items():
        yield from walk(sub, (*path, verb))
