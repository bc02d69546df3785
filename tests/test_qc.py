"""Clip checks: each check catches its defect on clips made here with PyAV, and passes a clean
clip; failed clips are never extended; retakes stop at their limit and never pay twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from runsupport import (
    KEY,
    assert_state_accounts_for_every_charge,
    charged,
    manifest,
    mjv,
    run_spec,
    subprocess_env,
    write,
)

from orchestrator.qc.check import ClipCheck, check_clip
from orchestrator.qc.rules import Expected, QcResult, QcRules, judge
from orchestrator.qc.takes import may_approve
from orchestrator.qc.thumbs import _write_jpeg
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.simulator.footage import SD_SIZE, footage, picture_of

SD = "vid_1.1_i2v_480"
PICTURE = picture_of(None, "https://example.com/start.png", SD_SIZE)


def _clip(tmp_path: Path, name: str, fault: str = "", seconds: float = 5.0) -> Path:
    path = tmp_path / f"{name}.mp4"
    path.write_bytes(footage(PICTURE, seconds, fault))
    return path


def _check(path: Path, step: int = 0, **more: object) -> QcResult:
    expected = Expected.of(step, SD)
    return check_clip(ClipCheck(path, QcRules(), expected, **more))  # type: ignore[arg-type]


@pytest.fixture
def start_image(tmp_path: Path) -> Path:
    path = tmp_path / "start.jpg"
    _write_jpeg(path, PICTURE)
    return path


def test_a_clean_clip_passes_with_every_score(tmp_path: Path, start_image: Path) -> None:
    result = _check(_clip(tmp_path, "clean"), start_image=start_image)
    assert result.passed, result.reasons
    assert result.scores["decodes"] is True
    assert (result.scores["width"], result.scores["height"]) == SD_SIZE
    assert result.scores["duration"] == pytest.approx(5.0, abs=0.05)
    assert result.scores["frozen"] == 0 and result.scores["black"] == 0
    assert float(result.scores["start_similarity"]) > 0.8
    assert "end_similarity" not in result.scores and "continuity" not in result.scores
    assert all((tmp_path / name).is_file() for name in result.thumbs)


@pytest.mark.parametrize(
    ("fault", "score", "reason"),
    [
        ("frozen", "frozen", "frozen 0.9"),
        ("black", "black", "black 1 above"),
        ("flicker", "flicker", "flicker 0."),
        ("short", "duration", "duration 2 s, expected 5 s"),
    ],
)
def test_each_defect_is_caught(tmp_path: Path, fault: str, score: str, reason: str) -> None:
    result = _check(_clip(tmp_path, fault, fault))
    assert not result.passed
    assert any(r.startswith(reason) for r in result.reasons), result.reasons
    assert score in result.scores


def test_a_frozen_clip_has_no_motion(tmp_path: Path) -> None:
    result = _check(_clip(tmp_path, "frozen", "frozen"))
    assert float(result.scores["motion"]) < QcRules().min_motion


def test_an_undecodable_file_fails_without_scores_that_do_not_apply(tmp_path: Path) -> None:
    result = _check(_clip(tmp_path, "bad", "undecodable"))
    assert not result.passed and result.scores == {"decodes": False}
    assert result.reasons[0].startswith("does not decode")


def test_a_clip_not_starting_from_its_image_fails(tmp_path: Path, start_image: Path) -> None:
    result = _check(_clip(tmp_path, "other", "unrelated"), start_image=start_image)
    assert not result.passed
    assert any(r.startswith("start_similarity") for r in result.reasons)


def test_a_loop_whose_end_does_not_meet_its_start_fails(tmp_path: Path) -> None:
    still = _check(_clip(tmp_path, "still", "frozen"), loop=True)
    moving = _check(_clip(tmp_path, "moving"), loop=True)
    assert float(still.scores["end_similarity"]) > 0.95
    assert any(r.startswith("end_similarity") for r in moving.reasons)


def test_continuity_of_an_extension_with_its_parent(tmp_path: Path) -> None:
    parent = _clip(tmp_path, "parent")
    going_on = _check(_clip(tmp_path, "ext", seconds=9.0), step=1, parent=parent)
    jumping = _check(_clip(tmp_path, "jump", "unrelated", seconds=9.0), step=1, parent=parent)
    assert going_on.passed, going_on.reasons
    assert float(going_on.scores["continuity"]) > 0.8
    assert any(r.startswith("continuity") for r in jumping.reasons)


def test_the_wrong_resolution_fails(tmp_path: Path) -> None:
    result = check_clip(
        ClipCheck(_clip(tmp_path, "sd"), QcRules(), Expected.of(0, SD[:-3] + "720"))
    )
    assert "size 854x480, expected about 921,600 pixels" in result.reasons


def test_a_failed_clip_is_approved_only_with_force(tmp_path: Path) -> None:
    failed = _check(_clip(tmp_path, "black", "black"))
    assert not may_approve(failed) and may_approve(failed, force=True)
    assert may_approve(_check(_clip(tmp_path, "clean")))


SPEC = """\
version: 1
campaign: qc-{name}
defaults:
  qc: {qc}
images:
  a: {{url: "https://example.com/a.png"}}
prompts:
  p: "a slow pan {word}"
jobs:
  - name: job
    images: [a]
    prompts: [p]
    extend: [{{prompt: "and on"}}]
"""


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("MJV_API_KEY", KEY)
    config = SimulatorConfig(job_seconds=0.05, slots=4, clip_fault="frozen", clip_fault_word="bad")
    with Simulator(config) as sim:
        yield sim


def test_a_failed_clip_is_never_extended(faulty: Simulator, tmp_path: Path) -> None:
    spec = write(tmp_path / "s.yaml", SPEC.format(name="flag", qc="{}", word="bad"))
    result = run_spec(faulty, spec)
    assert sum(charged(faulty).values()) == 1, result.out  # the base clip only
    job = manifest(spec, "qc-flag")["jobs"][0]
    files = job["steps"][0]["files"]
    assert files[0]["qc"]["passed"] is False and files[0]["thumbs"]
    assert job["steps"][1]["status"] == "pending"


def test_retakes_stop_at_their_limit_and_never_pay_twice(faulty: Simulator, tmp_path: Path) -> None:
    qc = "{on_fail: retake, retakes: 2}"
    spec = write(tmp_path / "s.yaml", SPEC.format(name="retake", qc=qc, word="bad"))
    first = run_spec(faulty, spec)
    assert sum(charged(faulty).values()) == 3, first.out  # the take and two retakes
    again = run_spec(faulty, spec)  # a rerun (as after a crash): everything is in the state
    assert sum(charged(faulty).values()) == 3, again.out
    job = manifest(spec, "qc-retake")["jobs"][0]
    assert [r["retake"] for r in job["retakes"]] == [1, 2]
    assert len({job["fingerprint"], *(r["fingerprint"] for r in job["retakes"])}) == 3


def test_a_clean_chain_is_extended_and_mjv_qc_passes_it(faulty: Simulator, tmp_path: Path) -> None:
    qc = "{on_fail: retake, retakes: 2}"
    spec = write(tmp_path / "s.yaml", SPEC.format(name="clean", qc=qc, word=""))
    result = run_spec(faulty, spec)
    assert sum(charged(faulty).values()) == 2, result.out  # base and extension, no retake
    checked = mjv("qc", str(spec), "--state", str(tmp_path / ".mjv" / "state.db"))
    assert checked.code == 0, checked.err
    assert "2 clip(s) checked: 2 passed, 0 failed" in checked.out
    steps = manifest(spec, "qc-clean")["jobs"][0]["steps"]
    assert float(steps[1]["files"][0]["qc"]["scores"]["continuity"]) > 0.5
    assert json.dumps(steps).count('"passed": true') == 2


def test_the_cli_offers_every_clip_fault_and_the_environment_sets_them() -> None:
    from orchestrator.cli import CLIP_FAULTS
    from orchestrator.errors import ConfigError
    from orchestrator.simulator.footage import FAULTS, faults_from_env

    assert CLIP_FAULTS == FAULTS
    env = {"MJV_SIMULATE_CLIP_FAULT": "black:0.25", "MJV_SIMULATE_CLIP_FAULT_WORD": "dark"}
    assert faults_from_env(env) == {
        "clip_fault": "black",
        "clip_fault_share": 0.25,
        "clip_fault_word": "dark",
    }
    assert faults_from_env({}) == {}
    for bad in ("blue", "black:2", "black:x"):
        with pytest.raises(ConfigError, match="MJV_SIMULATE_CLIP_FAULT"):
            faults_from_env({"MJV_SIMULATE_CLIP_FAULT": bad})


def test_a_crash_at_any_state_write_never_pays_a_retake_twice(
    faulty: Simulator, tmp_path: Path
) -> None:
    qc = "{on_fail: retake, retakes: 2}"
    spec = write(tmp_path / "s.yaml", SPEC.format(name="crash", qc=qc, word="bad"))
    child = Path(__file__).with_name("crash_child.py")
    codes = []
    for writes in (2, 4, 6, 8, 10, 10**6):  # the last run is not killed
        proc = subprocess.run(
            [sys.executable, str(child), str(spec), faulty.base_url, str(writes)],
            env=subprocess_env(faulty),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode in (0, 3, -signal.SIGKILL), proc.stderr
        codes.append(proc.returncode)
    assert codes[-1] == 3 and codes.count(-signal.SIGKILL) >= 3  # blocked: every take failed
    assert len(charged(faulty)) == 3  # the take and its two retakes, never the extension
    assert all(key.endswith("-a1") for key in charged(faulty))  # a resend repeats its key
    assert_state_accounts_for_every_charge(faulty, tmp_path / ".mjv/state.db", "qc-crash")


def test_memory_does_not_grow_with_the_clip(tmp_path: Path) -> None:
    import tracemalloc

    def peak(path: Path) -> int:
        tracemalloc.start()
        try:
            check_clip(ClipCheck(path, QcRules(), Expected.of(4, SD)))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    short, long = _clip(tmp_path, "short", seconds=5.0), _clip(tmp_path, "long", seconds=21.0)
    # Four times the frames: the peak stays that of a few frames and the pictures kept.
    assert peak(long) < 1.5 * peak(short)


def test_retakes_are_restored_from_the_manifest_when_the_state_is_lost(
    faulty: Simulator, tmp_path: Path
) -> None:
    qc = "{on_fail: retake, retakes: 2}"
    spec = write(tmp_path / "s.yaml", SPEC.format(name="lost", qc=qc, word="bad"))
    run_spec(faulty, spec)
    assert sum(charged(faulty).values()) == 3
    for leftover in (tmp_path / ".mjv").iterdir():
        leftover.unlink()  # the state file is gone; the manifest says what was paid for
    again = run_spec(faulty, spec)
    assert sum(charged(faulty).values()) == 3, again.out


@pytest.mark.parametrize(
    ("video_type", "size", "passes"),
    [
        (SD, (832, 464), True),
        (SD, (624, 624), True),
        (SD, (854, 480), True),
        (SD, (1280, 720), False),
        (SD[:-3] + "720", (1280, 720), True),
        (SD[:-3] + "720", (832, 464), False),
    ],
)
def test_the_size_is_judged_by_area_whatever_the_aspect(
    video_type: str, size: tuple[int, int], passes: bool
) -> None:
    scores = {"decodes": True, "width": size[0], "height": size[1], "duration": 5.0}
    reasons = judge(QcRules(), scores, Expected.of(0, video_type))
    assert (reasons == ()) is passes, reasons


APPROVED = """\
version: 1
campaign: qc-approve
defaults: {batch_size: 2}
images:
  a: {url: "https://example.com/a.png"}
prompts:
  p: "a bad pan"
jobs:
  - name: job
    images: [a]
    prompts: [p]
    extend: [{prompt: "and on", index: approved}]
"""


def test_a_failed_clip_is_approved_and_extended_only_with_force(
    faulty: Simulator, tmp_path: Path
) -> None:
    spec = write(tmp_path / "s.yaml", APPROVED)
    assert run_spec(faulty, spec).code == 0
    refused = mjv("approve", str(spec), "job/clip-1.mp4")
    assert refused.code != 0 and "failed its checks (" in refused.err, refused
    assert "approve it anyway with --force" in refused.err
    assert mjv("approve", str(spec), "job/clip-1.mp4", "--force").code == 0
    again = run_spec(faulty, spec)
    assert sum(charged(faulty).values()) == 2, again.out  # the forced approval is extended
    steps = manifest(spec, "qc-approve")["jobs"][0]["steps"]
    assert [s["index"] for s in steps] == [0, 1] and steps[1]["status"] == "downloaded"


def test_the_clip_checker_loads_its_decoder_in_its_worker_before_the_first_clip(
    tmp_path: Path,
) -> None:
    # The last runner of a team to check a clip used to load PyAV and numpy in its tail.
    code = (
        "import sys\n"
        "from orchestrator.qc.takes import ClipChecker\n"
        "from orchestrator.state import open_store\n"
        f"store = open_store({str(tmp_path / 's.db')!r}, 'c')\n"
        "checker = ClipChecker(store)\n"
        "assert 'av' not in sys.modules\n"
        "checker.warm()\n"
        "checker.close()\n"
        "assert 'av' in sys.modules and 'numpy' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
