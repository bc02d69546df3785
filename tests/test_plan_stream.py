"""`mjv plan --format json` is written job by job, with the bytes of one json.dumps call."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from orchestrator.commands import plan as plan_command
from orchestrator.commands.plan import plan_to_json, write_json
from orchestrator.model import Campaign, Extension, ImageSource, Job, Settings
from orchestrator.plan import Plan, build_plan
from orchestrator.spec import load_campaign

SPECS = Path(__file__).resolve().parent.parent / "specs"
LOADABLE = ("extended-local.yaml", "spring-matrix.yaml")


def _dumps(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), sort_keys=True, ensure_ascii=False) + "\n"


def _streamed(plan: Plan) -> str:
    out = io.StringIO()
    write_json(plan, out)
    return out.getvalue()


def _job(name: str, prompt: str | None, end: ImageSource | None = None) -> Job:
    still = ImageSource("s", "imagine", imagine="a café at dawn", pick=2)
    settings = Settings(mode="relax", batch_size=2, loop=True)
    steps = (Extension(1, "farther", "high", 1, f"x-{name}"),) if prompt else ()
    return Job(name, f"fp-{name}", still, "p", prompt, settings, 1, name, end, steps)


def _campaign(jobs: int) -> Campaign:
    end = ImageSource("e", "url", url="https://cdn.example.com/é.png")
    made = [_job(f"j{n}", 'naïve "quoted" ✓' if n % 2 else None, end) for n in range(jobs)]
    return Campaign("c", Path("/c.yaml"), "", Path("/out"), tuple(made), {"fast": 0.6}, 3.5)


@pytest.mark.parametrize("name", LOADABLE)
def test_streamed_json_is_byte_identical_for_the_sample_specs(name: str) -> None:
    plan = build_plan(load_campaign(SPECS / name))
    assert _streamed(plan) == _dumps(plan)


@pytest.mark.parametrize("jobs", [0, 1, 4, 5, 9])
def test_streamed_json_is_byte_identical_across_chunk_edges(
    jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_command, "_CHUNK", 2)
    plan = build_plan(_campaign(jobs), orphaned=("gone-1", "gone-2") if jobs else ())
    text = _streamed(plan)
    assert text == _dumps(plan)
    assert len(json.loads(text)["jobs"]) == jobs + (2 if jobs else 0)


def test_jobs_are_turned_into_json_a_chunk_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_command, "_CHUNK", 3)
    converted: list[str] = []
    row_text = plan_command._row_text
    monkeypatch.setattr(
        plan_command,
        "_row_text",
        lambda row, shared: converted.append(row.name) or row_text(row, shared),
    )
    written: list[int] = []  # jobs converted when each piece of text was written

    class Sink(io.StringIO):
        def write(self, text: str) -> int:
            written.append(len(converted))
            return super().write(text)

    write_json(build_plan(_campaign(10)), Sink())
    assert len(converted) == 10
    # Every chunk is written before the next is built: never more than 3 jobs held as data.
    chunk_writes = sorted(set(written) - {0})
    assert chunk_writes == [3, 6, 9, 10]
