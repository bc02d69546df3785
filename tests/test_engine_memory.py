"""The engine on an in-memory provider and a virtual clock: no socket, no real sleep.

Jobs of a minute at the provider, polls every 3 s and minutes of backoff take milliseconds,
and what the engine sent, recorded and reported is checked exactly.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from memprovider import Clock, MemoryProvider, memory_run
from runsupport import write

from orchestrator.engine.context import RunConfig, RunReport
from orchestrator.simulator import SimulatorConfig
from orchestrator.state import open_store

SPEC = """\
version: 1
campaign: mem
defaults:
  qc: {enabled: false}  # the checks run on real threads, which the virtual clock cannot see
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  p: "slow orbit {{ n }}"
jobs:
  - name: "j{{ n }}"
    images: [a]
    prompts: [p]
    matrix: {n: [1, 2, 3, 4, 5, 6]}
    extend: [{prompt: "keep going"}]
"""
# Real pace: a minute per task, 3 slots, polls every 3 s, the default request rate.
REAL = RunConfig(concurrency=3, poll_interval=3.0)


def run(
    tmp_path: Path, provider: MemoryProvider, clock: Clock, config: RunConfig = REAL
) -> RunReport:
    spec = write(tmp_path / "c.yaml", SPEC)
    return memory_run(spec, provider, clock, config, state=tmp_path / "state.db")


def test_a_real_pace_campaign_runs_in_virtual_time(tmp_path: Path) -> None:
    clock = Clock()
    provider = MemoryProvider(SimulatorConfig(job_seconds=60, slots=3), clock)
    start = clock.now
    report = run(tmp_path, provider, clock)
    assert report.count("done") == 6 and report.submitted == 12
    # Two waves of 3 chains of two one-minute steps: four minutes of tasks, plus the polls
    # that see each end; never more than 3 at once.
    elapsed = clock.now - start
    assert 240 <= elapsed < 240 + 12 * 3.5, elapsed
    assert provider.fake.peak_running <= 3
    assert report.spent == 7.2


def test_a_slow_queue_is_stuck_not_resubmitted_in_virtual_time(tmp_path: Path) -> None:
    """An hour in the provider's queue: stuck after the task timeout, and never sent twice."""
    clock = Clock()
    provider = MemoryProvider(SimulatorConfig(job_seconds=60, slots=3, queue_seconds=3000), clock)
    report = run(tmp_path, provider, clock, replace(REAL, task_timeout=600))
    assert {o.status for o in report.outcomes} == {"stuck"}
    assert report.submitted == 6 and provider.sent.count("/mj-fast/mj/submit/video") == 6
    later = run(tmp_path, provider, clock, replace(REAL, task_timeout=3900))
    assert later.count("done") == 6 and later.submitted == 6  # the extensions only


def test_queue_full_backs_off_for_minutes_without_sleeping(tmp_path: Path) -> None:
    clock = Clock()
    config = SimulatorConfig(job_seconds=60, slots=3, queue_full=0.5, seed=2)
    provider = MemoryProvider(config, clock)
    report = run(tmp_path, provider, clock, replace(REAL, max_attempts=20))
    assert report.count("done") == 6
    refused = provider.fake.faults.get("queue_full", 0)
    assert refused > 0
    with open_store(tmp_path / "state.db", "mem") as store:
        assert store.totals().spent == 7.2  # refusals cost nothing


def test_the_intent_is_committed_as_the_request_leaves(tmp_path: Path) -> None:
    """The provider sees a request only after its intent is in the state."""
    clock = Clock()
    provider = MemoryProvider(SimulatorConfig(job_seconds=60, slots=3), clock)
    seen: list[tuple[str, str]] = []
    store_path = tmp_path / "state.db"
    original = provider._call

    def spy(method, path, body=None, headers=None, on_send=None):  # type: ignore[no-untyped-def]
        if on_send is not None:

            async def checked() -> None:
                await on_send()
                with open_store(store_path, "mem") as store:
                    key = (headers or {}).get("idempotency-key", "")
                    sub = next(s for s in store.submissions() if key.startswith(s.key[:32]))
                    seen.append((key, sub.status))

            return original(method, path, body, headers, checked)
        return original(method, path, body, headers, on_send)

    provider._call = spy  # type: ignore[method-assign]
    report = run(tmp_path, provider, clock)
    assert report.count("done") == 6
    assert len(seen) == 12 and {status for _, status in seen} == {"submitting"}
