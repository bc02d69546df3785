"""The plan's JSON rows written as text are the C encoder's bytes for every kind of row."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

from orchestrator.commands.plan import _row_json, _row_text, plan_to_json, write_json
from orchestrator.plan import build_plan
from orchestrator.spec import load_campaign

POSITIVE = Path(__file__).resolve().parent / "data" / "positive"


def test_steps_awaiting_a_review_are_written_like_json_dumps() -> None:
    plan = build_plan(load_campaign(POSITIVE / "review-approved.yaml"), orphaned=("gone",))
    assert any(row.job is not None and row.job.awaiting for row in plan.rows)
    out = io.StringIO()
    write_json(plan, out)
    expected = json.dumps(plan_to_json(plan), sort_keys=True, ensure_ascii=False) + "\n"
    assert out.getvalue() == expected
    assert any("waiting" in job for job in json.loads(out.getvalue())["jobs"])


def test_every_kind_of_cost_is_written_like_json_dumps() -> None:
    plan = build_plan(load_campaign(POSITIVE / "review-approved.yaml"), orphaned=("gone",))
    costs = [(1.2, 0), (0.0, 2), (-0.0, 0), (3, 0), (2.5, 1), (float("inf"), 0), (1e-7, 0)]
    for row in plan.rows:
        for known, unpriced in costs:
            costly = replace(row, known_cost=known, unpriced=unpriced)
            expected = json.dumps(_row_json(costly), sort_keys=True, ensure_ascii=False)
            assert _row_text(costly, {}) == expected
