"""Spec and provider text cannot hijack mjv's output: terminals, CI logs, markdown; reserved names.

The payloads are the audit's: ANSI colours, OSC 8 links, BEL and CR in a failReason; escapes in
spec text; a multi-line prompt whose lines are GitHub workflow commands; backticks and HTML in a
job name that the markdown plan puts in a code span.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hostile_server import KEY, Hostile, hostile
from runsupport import FAST, Result, mjv, write

from orchestrator.engine.progress import Snapshot, TtyProgress
from orchestrator.terminal import SafeStream, md_code, md_text, neutralise

EVIL = (
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 bell\x07"
    " \rOVERWRITE\n::error title=pwned::injected\n  ::add-mask::hunter ##[set-output name=x]y"
    "\u202egnp.exe\x9b2J"
)
SPEC = """\
version: 1
campaign: inject
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit\\n::error title=x::boom\\n  ::add-mask::hunter\\n\\e[2J\\e]0;pwned\\a"
jobs:
  - name: "a` ![x](x.png) <img src=x onerror=alert(1)> `b\\e[5m"
    images: [a]
    prompts: [orbit]
run: {max_attempts: 1}
"""
RESERVED = """\
version: 1
campaign: names
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: "NAME"
    images: [a]
    prompts: [orbit]
"""
NAME = "a` ![x](x.png) <img src=x onerror=alert(1)> `b\x1b[5m"


def assert_inert(text: str) -> None:
    """No control character but newline, no line a CI runner reads as a command."""
    assert not [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F], text
    assert "\u202e" not in text and "##[" not in text
    assert not [line for line in text.splitlines() if line.lstrip().startswith("::")], text


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJV_API_KEY", KEY)


def _run(base_url: str, spec: Path) -> Result:
    return mjv("run", str(spec), "--base-url", base_url, *FAST)


def test_a_hostile_fail_reason_reaches_the_summary_and_status_inert(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    with hostile(Hostile(fail_reason=EVIL)) as server:
        result = _run(server.base_url, spec)
    status = mjv("status", str(spec))
    assert result.code == 3
    assert "\\u001b[31mred" in result.out and "\\rOVERWRITE" in status.out
    for text in (result.out, result.err, status.out, status.err):
        assert_inert(text)


def test_spec_text_reaches_plan_and_run_inert(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    plan = mjv("plan", str(spec))
    assert plan.code == 2
    assert "slow orbit\\n::error title=x::boom\\n  ::add-mask::hunter\\n\\u001b[2J" in plan.out
    with hostile(Hostile()) as server:
        run = _run(server.base_url, spec)
    assert run.code == 0, run.out + run.err
    for text in (plan.out, plan.err, run.out, run.err):
        assert_inert(text)


def test_the_markdown_plan_keeps_a_job_name_in_its_code_span(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    plan = mjv("plan", str(spec), "--format", "markdown")
    # (the cost column is issue 17's)
    name = "`` a` ![x](x.png) <img src=x onerror=alert(1)> `b\\u001b[5m ``"
    row = f"| {name} | new | 0.60 USD | new job |"
    assert row in plan.out.splitlines(), plan.out
    assert_inert(plan.out)


def test_json_output_stays_valid_and_decodes_to_the_same_text(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", SPEC)
    plan = mjv("plan", str(spec), "--format", "json")
    assert_inert(plan.out)
    assert json.loads(plan.out)["jobs"][0]["name"] == NAME


def test_a_stream_defuses_commands_split_across_writes() -> None:
    sink = io.StringIO()
    stream = SafeStream(sink, [KEY])
    for part in ("ok\n  :", ":error::x\n", "#", "#[add-mask]y\n", ":", ":z"):
        stream.write(part)
    stream.write(f"\nkey {KEY.upper()} and {KEY[3:]}\n:warning: fine\n")
    stream.flush()
    assert_inert(sink.getvalue())
    assert "key *** and ***\n:warning: fine\n" in sink.getvalue()


def test_a_live_line_keeps_its_own_escapes_and_escapes_what_it_shows() -> None:
    sink = io.StringIO()
    progress = TtyProgress(SafeStream(sink))
    progress.update(Snapshot(total=2, done=1, in_flight=1, failed=0, spent=0.6))
    progress.event("failed", job="j1", reason="\x1b]0;title\x07\rgone")
    assert "\r\x1b[K" in sink.getvalue()  # mjv's own: the live line is redrawn
    assert "\\u001b]0;title\\u0007\\rgone" in sink.getvalue()
    assert "\x07" not in sink.getvalue() and "]0;" not in sink.getvalue().replace("\\u001b]0;", "")


def test_the_helpers_escape_what_breaks_out() -> None:
    assert neutralise("a\tb\nc\x1b\x00\x85") == "a\tb\nc\\u001b\\u0000\\u0085"
    assert md_code("x``y|z") == "``` x``y\\|z ```"
    assert md_text("<b>*x* [l](u) & `c`") == "\\<b>\\*x\\* \\[l\\](u) \\& \\`c\\`"


def test_validate_github_annotations_stay_mjvs_own(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "c.yaml", SPEC.replace("version: 1", 'version: 1\n"x\\e]0;t\\a\\n::y": 1')
    )
    result = mjv("validate", "--format", "github", str(spec))
    assert result.code == 1
    lines = result.out.splitlines()
    # mjv's own annotation keeps its "::" through the guarded stream; its text is escaped.
    assert lines[0].startswith("::error file=") and lines[0].endswith(
        "unknown key 'x\\x1b]0;t\\x07\\n::y'"
    )
    assert_inert("\n".join(lines[1:]))
    assert "\x1b" not in result.out and "\x07" not in result.out


@pytest.mark.parametrize(
    "name",
    [
        "manifest.json",
        "Report.HTML",
        "versions",
        "x/versions",
        "x/clip-0.mp4",
        "c.review.yaml",
        ".hidden",
        "x/.clip-0.mp4.0123456789abcdef.part",
        "thumbs",
        "export.json",
    ],
)
def test_a_job_folder_named_like_what_mjv_writes_is_refused(tmp_path: Path, name: str) -> None:
    spec = write(tmp_path / "c.yaml", RESERVED.replace("NAME", name))
    result = mjv("validate", str(spec))
    assert result.code == 1, result.out
    assert f"output folder {name!r} of job {name!r} is refused" in result.out


def test_a_job_folder_that_only_looks_reserved_is_fine(tmp_path: Path) -> None:
    for name in ("manifest", "reports.html", "x/my-versions", "clip-0", "a.b"):
        spec = write(tmp_path / "c.yaml", RESERVED.replace("NAME", name))
        assert mjv("validate", str(spec)).code == 0, name
