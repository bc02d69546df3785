"""The position-aware YAML reader: values, marks, and clear problems instead of tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import UsageError
from orchestrator.spec import yamlsource
from orchestrator.spec.loader import load_campaign
from orchestrator.spec.problems import Problem, did_you_mean, json_path
from orchestrator.spec.yamlsource import parse_yaml


def test_values_and_positions_of_nested_keys() -> None:
    doc = parse_yaml("s.yaml", b"a:\n  b: [1, two, {c: 3.5}]\n  d: null\n")
    assert doc.data == {"a": {"b": [1, "two", {"c": 3.5}], "d": None}}
    assert doc.locate(("a", "b", 2, "c")) == (2, 19)
    assert doc.locate(("a", "b", 2, "c"), key=True) == (2, 16)
    assert doc.locate(("a", "d")) == (3, 6)
    assert doc.locate(("a", "missing", 4)) == (2, 3)  # falls back to the nearest parent
    assert doc.problems == []


def test_duplicate_keys_are_reported_at_the_second_key() -> None:
    doc = parse_yaml("s.yaml", b"a: 1\nb: 2\na: 3\n")
    assert doc.problems == [
        Problem("s.yaml", 3, 1, "$.a", "duplicate key 'a' (first defined at line 1)")
    ]
    assert doc.data == {"a": 1, "b": 2}


def test_merge_keys_let_explicit_keys_win_and_first_merge_win() -> None:
    text = b"x: &x {a: 1, b: 1}\ny: &y {b: 2, c: 2}\nz:\n  <<: [*x, *y]\n  a: 9\n"
    doc = parse_yaml("s.yaml", text)
    assert doc.data["z"] == {"a": 9, "b": 1, "c": 2}
    assert doc.problems == []


def test_recursive_alias_is_a_problem_not_a_crash() -> None:
    doc = parse_yaml("s.yaml", b"a: &a [1, *a]\n")
    assert [p.message for p in doc.problems] == ["recursive YAML alias"]


def test_alias_bomb_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "_MAX_NODES", 10_000)  # the real cap, just reached sooner
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    doc = parse_yaml("s.yaml", "\n".join(lines).encode())
    assert doc.problems and "alias bomb" in doc.problems[0].message


def test_timestamps_stay_text_and_unknown_tags_are_refused() -> None:
    doc = parse_yaml("s.yaml", b"when: 2024-01-02\nx: !custom 3\n")
    assert doc.data["when"] == "2024-01-02"
    assert [p.format() for p in doc.problems] == ["s.yaml:2:4: $.x: unsupported YAML tag !custom"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the file is empty"),
        (b"\n# comment only\n", "the file is empty"),
        (b"a: 1\n---\nb: 2\n", "YAML syntax error: but found another document"),
        (b"\xff\xfe\xfa bad", "not UTF-8 text (bad byte at offset 0)"),
        (b"PK\x03\x04\x00\x00", "not a text file (binary data)"),
    ],
)
def test_unparseable_files_give_one_clear_problem(raw: bytes, message: str) -> None:
    doc = parse_yaml("s.yaml", raw)
    assert len(doc.problems) == 1
    assert doc.problems[0].message.startswith(message)
    assert doc.data is None


def test_tab_indentation_points_at_the_tab() -> None:
    doc = parse_yaml("s.yaml", b"a:\n\tb: 1\n")
    (problem,) = doc.problems
    assert (problem.line, problem.col) == (2, 1)
    assert problem.message == (
        "YAML syntax error: found character that cannot start any token (a tab? YAML indents "
        "with spaces only)"
    )


def test_missing_and_folder_paths_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.yaml: no such file"):
        load_campaign(tmp_path / "nope.yaml")
    with pytest.raises(UsageError, match="is a directory"):
        load_campaign(tmp_path)


def test_json_path_and_did_you_mean() -> None:
    assert json_path(("jobs", 0, "matrix", "bad/name")) == "$.jobs[0].matrix['bad/name']"
    assert did_you_mean("fsat", ["fast", "relax"]) == " (did you mean 'fast'?)"
    assert did_you_mean("zzz", ["fast", "relax"]) == ""
    assert did_you_mean(3, [1, 2, 4]) == ""
