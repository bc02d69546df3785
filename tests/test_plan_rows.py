"""The plan's JSON rows written as text are the C encoder's bytes for every kind of row."""

from __future__ import annotations

import io
import json
from pathlib import Path

from orchestrator.commands.plan import plan_to_json, write_json
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
