"""Semantic checks still run on the parts of a spec that passed the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.spec import check_spec

GOOD = """\
version: 1
campaign: salvage
images:
  sneaker: {url: "https://cdn.example.com/sneaker.png"}
prompts:
  orbit: "orbit {{ subject }}"
jobs:
  - {images: [sneaker], prompts: [orbit]}
  - {images: [sneakr], prompts: [orbit], vars: {subject: x}}
"""


def _messages(tmp_path: Path, text: str) -> list[str]:
    spec = tmp_path / "s.yaml"
    spec.write_text(text, encoding="utf-8")
    return [f"{p.path}: {p.message}" for p in check_spec(spec)]


def test_a_broken_job_does_not_hide_problems_of_the_others(tmp_path: Path) -> None:
    text = GOOD + "  - {images: [sneaker], takes: many}\n"
    assert _messages(tmp_path, text) == [
        "$.prompts.orbit: undefined variable 'subject' in job 'sneaker-orbit'",
        "$.jobs[1].images[0]: unknown image 'sneakr' (did you mean 'sneaker'?)",
        "$.jobs[2].takes: expected an integer, got a string",
    ]


def test_broken_images_and_prompts_are_not_also_reported_as_unknown(tmp_path: Path) -> None:
    text = GOOD.replace("images: [sneakr], prompts: [orbit]", "images: [bad], prompts: [worse]")
    text = text.replace("images:\n", "images:\n  bad: {url: nope}\n", 1)
    text = text.replace("prompts:\n", "prompts:\n  worse: 42\n", 1)
    assert _messages(tmp_path, text) == [
        "$.images.bad.url: 'nope' does not match the pattern ^https?://\\S+$",
        "$.prompts.worse: expected a string, got an integer",
        "$.prompts.orbit: undefined variable 'subject' in job 'sneaker-orbit'",
    ]


@pytest.mark.parametrize(
    ("extra", "first"),
    [
        ("vars: 3\n", "$.vars: expected a mapping, got an integer"),
        ("defaults: [fast]\n", "$.defaults: expected a mapping, got a list"),
        ("defaults: {mode: fsat}\n", "$.defaults.mode: 'fsat' is not one of"),
    ],
)
def test_broken_expansion_inputs_skip_expansion_but_not_references(
    tmp_path: Path, extra: str, first: str
) -> None:
    messages = _messages(tmp_path, GOOD + extra)
    assert messages[0] == "$.jobs[1].images[0]: unknown image 'sneakr' (did you mean 'sneaker'?)"
    assert messages[1].startswith(first)
    assert len(messages) == 2  # no render errors from a half-known context


def test_a_wrong_type_for_a_whole_section_stops_after_the_schema(tmp_path: Path) -> None:
    text = GOOD.replace("jobs:\n", "jobs: 3\nignored:\n")
    assert _messages(tmp_path, text)[0] == "$.jobs: expected a list, got an integer"
