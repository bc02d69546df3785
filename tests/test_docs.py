"""The documentation site: generated pages up to date, every page in the nav, links that hold."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from orchestrator.cli import build_parser
from orchestrator.docsgen import REGENERATE, cli_reference, spec_reference, stale

REPO = Path(__file__).resolve().parent.parent


def test_the_generated_reference_pages_are_up_to_date() -> None:
    old = stale(REPO)
    assert old == [], f"{', '.join(map(str, old))} stale: run `{REGENERATE}` to regenerate"


def test_the_spec_reference_documents_every_key_of_the_schema() -> None:
    schema = {
        "description": "d",
        "properties": {
            "pricing": {
                "description": "Prices.",
                "type": "object",
                "properties": {"currency": {"description": "The unit.", "type": "string"}},
            },
            "run": {"$ref": "#/$defs/run"},
        },
        "$defs": {
            "run": {
                "description": "Knobs.",
                "type": "object",
                "properties": {
                    "concurrency": {"description": "Slots.", "type": "integer", "minimum": 1}
                },
            }
        },
    }
    page = spec_reference(schema)
    assert "## `pricing`" in page and "| `currency` | string |  | The unit. |" in page
    assert "## `run`" in page and "| `concurrency` | integer |  | Slots. (>= 1) |" in page


def test_every_schema_property_has_a_description() -> None:
    import json

    from orchestrator.spec.schema import SCHEMA_PATH

    schema = json.loads(SCHEMA_PATH.read_text())
    missing: list[str] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for key, child in node.get("properties", {}).items():
                if isinstance(child, dict) and "description" not in child and "$ref" not in child:
                    missing.append(f"{path}.{key}")
                walk(child, f"{path}.{key}")
            for key in ("items", "additionalProperties"):
                walk(node.get(key), f"{path}[]")
            for key, child in node.get("$defs", {}).items():
                walk(child, f"$defs.{key}")

    walk(schema, "$")
    assert missing == [], f"give these schema properties a description: {missing}"


def test_the_cli_reference_lists_every_verb_of_the_parser() -> None:
    page = cli_reference(build_parser())
    for verb in ("init", "validate", "run", "retry", "completion", "state copy"):
        assert f"## `mjv {verb}`" in page
    assert "| `--notify URL` |" in page and "| `--yes` |" in page


def _nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def test_every_page_is_in_the_nav_and_every_relative_link_resolves() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    in_nav = set(_nav_pages(config["nav"]))
    pages = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert pages <= in_nav | set(config.get("not_in_nav", "").split()), pages - in_nav
    for page in pages:
        text = (REPO / "docs" / page).read_text()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert ((REPO / "docs" / page).parent / target).exists(), f"{page}: {target}"


def test_the_readme_is_short_and_keeps_the_two_set_up_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/mjv validate specs/ "
        "&& .venv/bin/mjv run specs/demo.yaml --simulate"
    ) in readme
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/pytest"
    ) in readme
