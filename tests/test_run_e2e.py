"""`mjv run` end to end against the simulator: clips, extensions, sources, re-runs, restore."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from runsupport import charged, manifest, mjv, run_spec, simulator, write

from orchestrator.simulator import Simulator, SimulatorConfig

__all__ = ["simulator"]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

MATRIX = """\
version: 1
campaign: e2e
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  orbit: "slow orbit, {{ mood }} light"
jobs:
  - name: "{{ image }}-{{ mood }}"
    images: [a, b]
    prompts: [orbit]
    matrix: {mood: [warm, cold]}
"""

CHAIN = """\
version: 1
campaign: chain
defaults: {mode: fast, motion: low, batch_size: 2}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: "long-{{ image }}"
    images: [a]
    prompts: [orbit]
    extend:
      - {prompt: "keeps orbiting", motion: high, index: 1}
      - {prompt: "STEP2"}
"""

SOURCES = """\
version: 1
campaign: sources
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  bottle: {file: assets/bottle.png}
  castle: {imagine: "a castle on a hill at dawn", pick: 2}
prompts:
  push: "the camera pushes in"
jobs:
  - name: "{{ image }}"
    images: [bottle, castle]
    prompts: [push]
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_files_match(spec: Path, campaign: str) -> int:
    count = 0
    for job in manifest(spec, campaign)["jobs"]:
        for step in job["steps"]:
            for entry in step["files"]:
                path = spec.parent / "out" / campaign / job["output"] / entry["name"]
                assert _sha(path) == entry["sha256"]
                assert path.read_bytes()[4:8] == b"ftyp"
                count += 1
    return count


def test_matrix_campaign_runs_every_job_once_and_writes_the_manifest(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    result = run_spec(simulator, spec)
    assert result.code == 0, result.out + result.err
    assert "4/4 jobs done, 4 submitted, 4 clips downloaded" in result.out
    names = [job["name"] for job in manifest(spec, "e2e")["jobs"]]
    assert names == ["a-cold", "a-warm", "b-cold", "b-warm"]
    assert _assert_files_match(spec, "e2e") == 4
    assert sorted(charged(simulator).values()) == [1, 1, 1, 1]


def test_unchanged_rerun_submits_and_downloads_nothing(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    assert run_spec(simulator, spec).code == 0
    before = (spec.parent / "out/e2e/manifest.json").read_bytes()
    requests = simulator.submit_requests()
    again = run_spec(simulator, spec)
    assert again.code == 0
    assert "nothing to do: all 4 jobs" in again.out
    assert simulator.submit_requests() == requests
    assert (spec.parent / "out/e2e/manifest.json").read_bytes() == before


def test_editing_one_prompt_resubmits_only_its_jobs(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    assert run_spec(simulator, spec).code == 0
    write(
        spec,
        MATRIX.replace(
            "{{ mood }} light", "{% if mood == 'cold' %}icy{% else %}{{ mood }}{% endif %} light"
        ),
    )
    plan = mjv("plan", str(spec))
    assert plan.code == 2
    spent = 0.6 * len(charged(simulator))
    assert f"spent so far: {spent:.2f} USD; this plan: 1.20 USD" in plan.out
    result = run_spec(simulator, spec)
    assert result.code == 0
    assert "2 submitted" in result.out
    # The run's own spending and the campaign's total, apart.
    assert (
        f"spent 1.20 USD in this run ({spent + 1.2:.2f} USD by the campaign in all)" in result.out
    )
    prompts = {job["name"]: job["prompt"] for job in manifest(spec, "e2e")["jobs"]}
    assert prompts["a-cold"] == "slow orbit, icy light"


def test_extension_chain_extends_the_parent_and_downloads_each_step(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", CHAIN)
    result = run_spec(simulator, spec)
    assert result.code == 0, result.out + result.err
    (job,) = manifest(spec, "chain")["jobs"]
    assert [step["step"] for step in job["steps"]] == [0, 1, 2]
    assert [f["name"] for f in job["steps"][0]["files"]] == ["clip-0.mp4", "clip-1.mp4"]
    assert job["steps"][1]["files"][0]["name"] == "ext1-clip-0.mp4"
    assert _assert_files_match(spec, "chain") >= 4
    tasks = [step["task_id"] for step in job["steps"]]
    assert len(set(tasks)) == 3


def test_editing_extension_step_two_keeps_the_base_clip_and_step_one(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", CHAIN)
    assert run_spec(simulator, spec).code == 0
    first = manifest(spec, "chain")["jobs"][0]["steps"]
    write(spec, CHAIN.replace("STEP2", "the camera rises"))
    result = run_spec(simulator, spec)
    assert result.code == 0
    assert "1 submitted" in result.out
    second = manifest(spec, "chain")["jobs"][0]["steps"]
    assert [s["task_id"] for s in second[:2]] == [s["task_id"] for s in first[:2]]
    assert second[2]["task_id"] != first[2]["task_id"]


def test_file_and_imagine_sources_upload_once_and_run_the_imagine_chain(
    simulator: Simulator, tmp_path: Path
) -> None:
    write(tmp_path / "assets/bottle.png", "")
    (tmp_path / "assets/bottle.png").write_bytes(PNG)
    spec = write(tmp_path / "c.yaml", SOURCES)
    result = run_spec(simulator, spec)
    assert result.code == 0, result.out + result.err
    upload = "POST /mj/submit/upload-discord-images"
    assert simulator.requests_by_route()[upload] == 1
    assert simulator.requests_by_route()["POST /mj/submit/imagine"] == 1
    assert simulator.requests_by_route()["POST /mj/submit/action"] == 1
    jobs = {job["name"]: job for job in manifest(spec, "sources")["jobs"]}
    assert jobs["castle"]["image"] == {
        "kind": "imagine",
        "name": "castle",
        "imagine": "a castle on a hill at dawn",
        "pick": 2,
    }
    # A second campaign using the same file reuses the upload cached by its sha256.
    spec2 = write(tmp_path / "d.yaml", SOURCES.replace("campaign: sources", "campaign: other"))
    assert run_spec(simulator, spec2).code == 0
    assert simulator.requests_by_route()[upload] == 1
    # Imagine chains are work of their campaign (its state, its costs): the other one pays its own.
    assert simulator.requests_by_route()["POST /mj/submit/imagine"] == 2


def test_force_regenerates_the_clip_but_keeps_the_imagine_still(
    simulator: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets/bottle.png").write_bytes(PNG)
    spec = write(tmp_path / "c.yaml", SOURCES)
    assert run_spec(simulator, spec).code == 0
    result = run_spec(simulator, spec, "--force", "castle", "--yes")
    assert result.code == 0
    assert "1 submitted" in result.out
    assert simulator.requests_by_route()["POST /mj/submit/imagine"] == 1


def test_restore_from_committed_manifest_submits_nothing_and_verifies_files(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", CHAIN)
    assert run_spec(simulator, spec).code == 0
    out = tmp_path / "out/chain"
    for clip in out.rglob("*.mp4"):
        clip.unlink()
    for state in (tmp_path / ".mjv").iterdir():
        state.unlink()
    submits = simulator.submit_requests()
    result = run_spec(simulator, spec)
    assert result.code == 0, result.out + result.err
    assert simulator.submit_requests() == submits
    assert "0 submitted" in result.out
    assert _assert_files_match(spec, "chain") >= 4


def test_altered_clip_is_downloaded_again_without_a_submission(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    assert run_spec(simulator, spec).code == 0
    clip = tmp_path / "out/e2e/a-warm/clip-0.mp4"
    clip.write_bytes(b"tampered")
    submits = simulator.submit_requests()
    result = run_spec(simulator, spec)
    assert result.code == 0
    assert "1 clips downloaded" in result.out
    assert simulator.submit_requests() == submits
    assert _assert_files_match(spec, "e2e") == 4


def test_force_regenerates_only_the_chosen_jobs(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    assert run_spec(simulator, spec).code == 0
    result = run_spec(simulator, spec, "--force", "a-*", "--yes")
    assert result.code == 0
    assert "2 submitted" in result.out


def test_select_runs_only_matching_jobs(simulator: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    result = run_spec(simulator, spec, "--select", "b-warm")
    assert result.code == 0
    assert "1/1 jobs done" in result.out
    status = mjv("status", str(spec), "--format", "json")
    assert '"done": 1' in status.out and '"new": 3' in status.out


def test_corrupt_state_file_is_a_clear_error_and_is_kept(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    state = tmp_path / ".mjv/state.db"
    state.parent.mkdir()
    state.write_bytes(b"not a database at all" * 100)
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert str(state) in result.err and "Traceback" not in result.err
    assert state.read_bytes() == b"not a database at all" * 100


def test_missing_key_is_a_clear_error_before_any_request(
    simulator: Simulator, tmp_path: Path, monkeypatch: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.delenv("MJV_API_KEY")
    spec = write(tmp_path / "c.yaml", MATRIX)
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert "MJV_API_KEY" in result.err
    assert simulator.total_requests() == 0


def _leave_in_doubt(spec: Path, job_name: str) -> str:
    """Record an intent for ``job_name`` by a process that died before the answer came."""
    import socket
    import subprocess

    from orchestrator.engine.runner import submission_specs
    from orchestrator.spec import load_campaign
    from orchestrator.state import open_store

    dead = subprocess.run(["true"], check=True)
    assert dead.returncode == 0
    campaign = load_campaign(spec)
    job = next(job for job in campaign.jobs if job.name == job_name)
    proc = subprocess.Popen(["true"])
    proc.wait()
    owner = f"{socket.gethostname()}:{proc.pid}:dead"
    with open_store(spec.parent / ".mjv/state.db", campaign.name) as store:
        store.declare(submission_specs(campaign.jobs))
        assert store.claim(job.fingerprint, owner, 600)
        store.record_intent(job.fingerprint, owner, 0.6)
    return job.fingerprint


def test_in_doubt_submission_is_reported_skipped_or_resent_with_a_warning(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    key = _leave_in_doubt(spec, "a-warm")
    status = mjv("status", str(spec))
    assert "in doubt: a-warm" in status.out
    skipped = run_spec(simulator, spec, "--in-doubt", "skip")
    assert skipped.code == 3
    assert "in_doubt: job a-warm: in doubt" in skipped.out
    assert key[:32] + "-a1" not in charged(simulator)
    resent = run_spec(simulator, spec)
    assert resent.code == 0
    assert "job a-warm was in doubt and was sent again; it may be charged twice" in resent.out
    # The resend repeats the first attempt's idempotency key.
    assert charged(simulator)[key[:32] + "-a1"] == 1


def test_status_without_a_state_file_creates_none(tmp_path: Path) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    result = mjv("status", str(spec))
    assert result.code == 0
    assert "new 4" in result.out
    assert not (tmp_path / ".mjv").exists()


def test_retry_gives_failed_jobs_a_new_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJV_API_KEY", "sk-simulator")
    banned = MATRIX.replace("{{ mood }} light", "{{ mood }}{% if mood == 'cold' %} ban{% endif %}")
    spec = write(tmp_path / "c.yaml", banned)
    config = SimulatorConfig(
        job_seconds=0.05, slots=4, banned_words=("ban",), moderation_style="en"
    )
    with Simulator(config) as sim:
        first = run_spec(sim, spec)
        assert first.code == 3, first.out
        assert first.out.count("failed (final)") == 2
        # Final failures are not retried without --include-final.
        again = run_spec(sim, spec, verb="retry")
        assert again.code == 3
        assert sim.submit_requests() == 4
    with Simulator(SimulatorConfig(job_seconds=0.05, slots=4)) as sim:  # the word is allowed now
        forced = run_spec(sim, spec, "--include-final", "--yes", verb="retry")
        assert forced.code == 0, forced.out
        assert "4/4 jobs done, 2 submitted" in forced.out


def test_jobs_with_identical_requests_share_one_submission(
    simulator: Simulator, tmp_path: Path
) -> None:
    twins = MATRIX.replace(
        "    matrix: {mood: [warm, cold]}\n",
        "    matrix: {mood: [warm]}\n"
        "  - name: 'twin-{{ image }}'\n    images: [a]\n    prompts: [orbit]\n"
        "    vars: {mood: warm}\n",
    )
    spec = write(tmp_path / "c.yaml", twins)
    result = run_spec(simulator, spec)
    assert result.code == 0, result.out + result.err
    assert "3/3 jobs done, 2 submitted" in result.out
    assert sorted(charged(simulator).values()) == [1, 1]
    jobs = {job["name"]: job for job in manifest(spec, "e2e")["jobs"]}
    assert jobs["twin-a"]["fingerprint"] == jobs["a-warm"]["fingerprint"]
    assert _assert_files_match(spec, "e2e") == 3


def test_run_of_a_broken_spec_points_at_the_line_and_submits_nothing(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX.replace("campaign: e2e", "campaign: Bad_Name"))
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert f"{spec}:2:11: $.campaign: 'Bad_Name' does not match" in result.err
    assert "Traceback" not in result.err
    assert simulator.total_requests() == 0


def test_blocked_output_folder_fails_before_any_submission(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "c.yaml", MATRIX)
    (tmp_path / "out").mkdir()
    (tmp_path / "out/e2e").write_text("a file where the output folder should be")
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert "out/e2e cannot be created (a file is in its place)" in result.err
    assert "Traceback" not in result.err
    assert simulator.submit_requests() == 0


def test_a_file_where_a_job_folder_goes_is_found_before_anything_is_paid(
    simulator: Simulator, tmp_path: Path
) -> None:
    # Issue 17 item 6 changes this: it used to be found after paying (a later run then saved
    # the clip); the preflight now looks at every job's folder. A clip that cannot be written
    # mid-run is tests/test_run_limits.py's.
    spec = write(tmp_path / "c.yaml", MATRIX)
    (tmp_path / "out/e2e").mkdir(parents=True)
    (tmp_path / "out/e2e/a-warm").write_text("a file where the job folder should be")
    result = run_spec(simulator, spec)
    assert result.code == 1
    assert "job a-warm:" in result.err and "a file is in its place" in result.err
    assert "nothing was submitted" in result.err
    assert simulator.submit_requests() == 0
    (tmp_path / "out/e2e/a-warm").unlink()
    again = run_spec(simulator, spec)
    assert again.code == 0, again.out + again.err
