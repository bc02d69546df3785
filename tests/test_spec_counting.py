"""`mjv validate` counts jobs without building them: the same problems, the same count."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec import check_spec, load_campaign, validate_spec

DATA = Path(__file__).resolve().parent / "data"
SPECS = Path(__file__).resolve().parent.parent / "specs"
VALID = [*sorted((DATA / "positive").glob("*.yaml")), SPECS / "spring-matrix.yaml"]
INVALID = sorted((DATA / "negative").glob("*.yaml"))


@pytest.mark.parametrize("spec", VALID, ids=lambda path: path.name)
def test_validate_counts_the_jobs_load_builds(spec: Path) -> None:
    assert validate_spec(spec) == len(load_campaign(spec).jobs) > 0


@pytest.mark.parametrize("spec", INVALID, ids=lambda path: path.name)
def test_validate_finds_the_problems_load_finds(spec: Path) -> None:
    with pytest.raises(SpecError) as loading:
        load_campaign(spec)
    assert check_spec(spec) == loading.value.problems
