"""Fixture-driven spec tests: exact problems for negative files, none for positive ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from orchestrator.errors import SpecError
from orchestrator.spec import check_spec, load_campaign
from orchestrator.spec.schema import SCHEMA_PATH

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
NEGATIVE = sorted((DATA / "negative").glob("*.yaml"))
POSITIVE = sorted((DATA / "positive").glob("*.yaml"))
EXAMPLES = sorted((REPO / "specs").glob("*.yaml"))


def _short(path: Path) -> list[str]:
    return [f"{p.line}:{p.col}: {p.path}: {p.message}" for p in check_spec(path)]


@pytest.mark.parametrize("spec", NEGATIVE, ids=lambda p: p.stem)
def test_negative_fixture_reports_exactly_the_expected_problems(spec: Path) -> None:
    expected = spec.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert expected, "a negative fixture needs at least one expected problem"
    assert _short(spec) == expected


@pytest.mark.parametrize("spec", NEGATIVE, ids=lambda p: p.stem)
def test_negative_fixture_raises_spec_error_naming_the_file(spec: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_campaign(spec)
    assert all(problem.file == str(spec) for problem in info.value.problems)  # type: ignore[attr-defined]
    assert str(spec) in str(info.value)


@pytest.mark.parametrize("spec", POSITIVE + EXAMPLES, ids=lambda p: p.stem)
def test_positive_fixtures_and_examples_are_valid(spec: Path) -> None:
    assert check_spec(spec) == ()
    assert load_campaign(spec).jobs


def test_examples_folder_has_the_three_campaigns() -> None:
    names = {path.name for path in EXAMPLES}
    assert "demo.yaml" in names and len(names) >= 3
    demo = load_campaign(REPO / "specs" / "demo.yaml")
    assert all(job.image.kind == "url" for job in demo.jobs)  # the demo needs no local files


def test_schema_passes_its_metaschema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["additionalProperties"] is False


def _properties(node: object, where: str = "$") -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            found.append((f"{where}.{name}", sub))
        for key, sub in node.items():
            found.extend(_properties(sub, f"{where}/{key}"))
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            found.extend(_properties(sub, f"{where}[{i}]"))
    return found


def test_every_schema_property_has_a_description() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    for where, sub in _properties(schema):
        target = defs[str(sub["$ref"]).rsplit("/", 1)[1]] if "$ref" in sub else sub
        assert "description" in sub or "description" in target, where


def test_every_object_in_the_schema_forbids_unknown_keys() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    objects = [sub for _, sub in _properties(schema) if sub.get("type") == "object"]
    objects += [d for d in schema["$defs"].values() if d.get("type") == "object"]
    assert objects
    assert all("additionalProperties" in sub for sub in objects)


def test_examples_validate_with_check_jsonschema() -> None:
    command = [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA_PATH)]
    result = subprocess.run(
        [*command, *map(str, EXAMPLES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_packaged_schema_is_the_repository_schema() -> None:
    repository_schema = REPO / "schema" / "campaign.schema.json"
    assert SCHEMA_PATH.read_bytes() == repository_schema.read_bytes()
