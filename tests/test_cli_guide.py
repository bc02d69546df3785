"""Help that helps: every verb described with an example, "did you mean" for verbs and flags,
and completion scripts for bash and zsh made from the parser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from runsupport import mjv

from orchestrator.cli import _ADDERS, _verb_in, build_parser
from orchestrator.cliguide import examples, verb_parsers
from orchestrator.completion import script
from orchestrator.errors import EXIT_USAGE


def test_every_verb_has_a_description_and_an_example() -> None:
    missing = [
        verb
        for verb, parser in verb_parsers(build_parser()).items()
        if not parser.description or not examples(parser)
    ]
    assert missing == [], f"add a description and examples for {missing} to cliguide.GUIDE"


def test_help_shows_the_description_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert mjv("run", "--help").code == 0
    shown = capsys.readouterr().out
    assert "Submit, poll, extend and download" in shown
    assert "examples:\n  mjv run spec.yaml --simulate" in shown


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["rn", "x.yaml"], "(did you mean 'run'?)"),
        (["valdate", "x"], "(did you mean 'validate'?)"),
        (["run", "x.yaml", "--forse", "a"], "(did you mean '--force'?)"),
        (["plan", "x.yaml", "--formt", "json"], "(did you mean '--format'?)"),
        (["state", "copy", "a", "b", "--campain", "x"], "(did you mean '--campaign'?)"),
        (["plan", "x.yaml", "--format", "jsn"], "(did you mean 'json'?)"),
    ],
)
def test_a_typo_gets_a_did_you_mean(
    argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = mjv(*argv)
    assert result.code == EXIT_USAGE
    assert hint in capsys.readouterr().err


def test_a_word_far_from_every_verb_gets_no_guess(capsys: pytest.CaptureFixture[str]) -> None:
    assert mjv("zzzzqq").code == EXIT_USAGE
    assert "did you mean" not in capsys.readouterr().err


def test_completion_scripts_name_every_verb_of_the_parser() -> None:
    verbs = verb_parsers(build_parser())
    for shell in ("bash", "zsh"):
        text = mjv("completion", shell).out
        assert text == script(shell, build_parser())
        for verb in verbs:
            assert f"    {verb})\n" in text
    assert "autoload -U +X bashcompinit && bashcompinit\n" in mjv("completion", "zsh").out


def _complete(words: list[str]) -> list[str]:
    """Ask bash for the completions of ``words`` (the last one being completed)."""
    program = script("bash", build_parser()) + (
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        '_mjv; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_verbs_flags_and_choices() -> None:
    offered = _complete(["mjv", "re"])
    assert {"retry", "report"} <= set(offered) and all(v.startswith("re") for v in offered)
    assert "--force" in _complete(["mjv", "run", "--f"])
    assert "--include-final" in _complete(["mjv", "retry", "--inc"])
    assert _complete(["mjv", "plan", "--format", "m"]) == ["markdown"]
    assert _complete(["mjv", "state", "c"]) == ["copy"]
    assert _complete(["mjv", "completion", "z"]) == []  # a positional: left to the shell


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_the_zsh_script_loads_and_answers_as_bashcompinit_calls_it(tmp_path: Path) -> None:
    # bashcompinit's compgen calls the function in sh emulation (arrays from 0) and leaves the
    # filtering by prefix to zsh's own matching: so the candidates come back unfiltered.
    program = script("zsh", build_parser()) + (
        'ask() { emulate -L sh; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mjv;'
        ' echo "${COMPREPLY[*]}"; }\n'
        "ask mjv re\nask mjv plan --format m\nask mjv run --f\n"
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", program],
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    verbs, formats, flags = (line.split() for line in done.stdout.splitlines())
    assert {"retry", "report", "run"} <= set(verbs)
    assert formats == ["text", "json", "markdown"]
    assert "--force" in flags and "--notify" in flags


def test_a_mistyped_flag_never_echoes_a_webhook_secret(capsys: pytest.CaptureFixture[str]) -> None:
    url = "https://hooks.slack.com/services/T0/B0/s3cret?token=s3cret"
    assert mjv("run", "x.yaml", "--notfy", url).code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "s3cret" not in err
    assert "https://hooks.slack.com/..." in err and "(did you mean '--notify'?)" in err


def test_a_one_verb_parser_knows_that_verb_exactly_as_the_whole_parser_does() -> None:
    whole = verb_parsers(build_parser())
    for verb, parser in whole.items():
        alone = verb_parsers(build_parser(verb))
        assert verb in alone
        assert alone[verb].format_help() == parser.format_help(), verb
        assert alone[verb].format_usage() == parser.format_usage(), verb
    assert set(_ADDERS) == set(whole)  # a verb added to the CLI is reachable alone too


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "x.yaml", "--concurrency", "3", "--select", "a*", "--yes"],
        ["--debug", "plan", "x.yaml", "--format", "json"],
        ["reject", "x.yaml", "a/clip-0.mp4", "--note", "n"],
        ["state", "copy", "a.db", "b.db", "--campaign", "c"],
    ],
)
def test_a_one_verb_parser_reads_argv_as_the_whole_parser_does(argv: list[str]) -> None:
    assert _verb_in(argv) == next(word for word in argv if word != "--debug")
    alone = vars(build_parser(_verb_in(argv)).parse_args(argv))
    assert alone == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version", "run"], ["rn", "x"], ["--debug"], [], ["-h", "run"]]
)
def test_argv_without_a_leading_verb_gets_the_whole_parser(argv: list[str]) -> None:
    assert _verb_in(argv) is None


def test_usage_errors_of_a_verb_read_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["run"], ["run", "x.yaml", "--concurrency", "0"], ["approve", "x.yaml"]):
        assert mjv(*argv).code == EXIT_USAGE
        alone = capsys.readouterr().err
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        assert alone == capsys.readouterr().err
