"""`mjv validate` through main(argv): exit codes, the three formats, and a lean start-up."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.errors import EXIT_USAGE

REPO = Path(__file__).resolve().parent.parent
NEGATIVE = REPO / "tests" / "data" / "negative"


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["validate", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copy(NEGATIVE / name, target)
    return target


def test_valid_examples_folder_exits_0(tmp_path: Path) -> None:
    code, out, err = _run(str(REPO / "specs"))
    assert code == 0 and err == ""
    assert f"{REPO / 'specs' / 'demo.yaml'}: ok (2 jobs)" in out.splitlines()
    assert out.splitlines()[-1] == "3 file(s) checked: 3 valid"


def test_invalid_file_exits_1_with_every_problem_as_file_line_col(tmp_path: Path) -> None:
    _copy("duplicate-keys.yaml", tmp_path)
    code, out, _ = _run("duplicate-keys.yaml")
    assert code == 1
    assert out.splitlines() == [
        "duplicate-keys.yaml:5:3: $.images.sneaker: "
        "duplicate key 'sneaker' (first defined at line 4)",
        "duplicate-keys.yaml:9:1: $.campaign: duplicate key 'campaign' (first defined at line 2)",
        "1 file(s) checked: 0 valid, 1 invalid (2 problem(s))",
    ]


def test_missing_path_is_a_usage_error_but_still_checks_the_others(tmp_path: Path) -> None:
    _copy("empty.yaml", tmp_path)
    code, out, err = _run("empty.yaml", "missing.yaml")
    assert code == EXIT_USAGE
    assert "empty.yaml:1:1: $: the file is empty" in out
    assert err == "mjv: error: missing.yaml: no such file\n"


def test_folder_without_specs_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty-dir").mkdir()
    code, _, err = _run("empty-dir")
    assert code == EXIT_USAGE and "no *.yaml or *.yml files" in err


def test_folder_takes_yaml_and_yml_but_not_other_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    shutil.copy(REPO / "specs" / "demo.yaml", tmp_path / "d" / "a.yml")
    (tmp_path / "d" / "notes.txt").write_text("not a spec")
    code, out, _ = _run("d")
    assert code == 0 and "d/a.yml: ok (2 jobs)" in out


def test_json_format_is_stable_and_complete(tmp_path: Path) -> None:
    _copy("top-list.yaml", tmp_path)
    code, out, _ = _run("--format", "json", "top-list.yaml", "nothere.yaml")
    assert code == EXIT_USAGE
    report = json.loads(out)
    assert report == {
        "valid": False,
        "files": [
            {
                "file": "top-list.yaml",
                "valid": False,
                "jobs": None,
                "error": None,
                "problems": [
                    {
                        "file": "top-list.yaml",
                        "line": 1,
                        "col": 1,
                        "path": "$",
                        "message": "the top level must be a mapping of spec keys, got a list",
                    }
                ],
            },
            {
                "file": "nothere.yaml",
                "valid": False,
                "jobs": None,
                "error": "nothere.yaml: no such file",
                "problems": [],
            },
        ],
    }
    assert out == json.dumps(report, indent=2, sort_keys=True) + "\n"


def test_github_format_emits_escaped_annotations(tmp_path: Path) -> None:
    spec = tmp_path / "a,b.yaml"
    spec.write_text("version: 1\ncampaign: x\njobs: []\nextra: 1\n")
    code, out, _ = _run("--format", "github", "a,b.yaml")
    assert code == 1
    assert out.splitlines()[:2] == [
        "::error file=a%2Cb.yaml,line=3,col=7::$.jobs: needs at least 1 item(s), got 0",
        "::error file=a%2Cb.yaml,line=4,col=1::$.extra: unknown key 'extra'",
    ]


def test_bad_format_is_a_usage_error() -> None:
    code, _, _ = _run("--format", "xml", "x.yaml")
    assert code == EXIT_USAGE


def test_validate_never_imports_httpx_or_sqlite3() -> None:
    script = (
        "import sys, io\n"
        "from orchestrator.cli import main\n"
        f"code = main(['validate', {str(REPO / 'specs')!r}], io.StringIO(), io.StringIO())\n"
        "assert code == 0, code\n"
        "print(sorted(m for m in ('httpx', 'sqlite3', '_sqlite3') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_python_dash_m_orchestrator_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "validate", str(REPO / "specs" / "demo.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ok (2 jobs)" in result.stdout


def test_an_unexpected_error_in_one_file_is_its_problem_and_the_rest_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.commands import validate

    real = validate.validate_spec

    def flaky(path: Path) -> int:
        if path.name == "a.yaml":
            raise RecursionError("maximum recursion depth exceeded")
        return real(path)

    monkeypatch.setattr(validate, "validate_spec", flaky)
    (tmp_path / "d").mkdir()
    for name in ("a.yaml", "b.yaml"):
        shutil.copy(REPO / "specs" / "demo.yaml", tmp_path / "d" / name)
    code, out, err = _run("d")
    assert code == 1 and err == ""
    assert out.splitlines() == [
        "d/a.yaml:1:1: $: internal error while checking this spec: "
        "RecursionError: maximum recursion depth exceeded",
        "d/b.yaml: ok (2 jobs)",
        "2 file(s) checked: 1 valid, 1 invalid (1 problem(s))",
    ]
