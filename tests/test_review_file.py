"""The review file: checked with file:line problems, written stably, never losing an edit."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from runsupport import mjv, write

from orchestrator.errors import SpecError
from orchestrator.review.current import Clip
from orchestrator.review.reviewfile import (
    Review,
    Verdict,
    load_review,
    render_review,
    review_path,
    update_review,
)
from orchestrator.review.verdicts import Change, apply_change

SHA = "a" * 64
SPEC = """\
version: 1
campaign: pick
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - images: [a]
    prompts: [orbit]
    extend:
      - {index: approved}
"""


def _clip(path: str, sha256: str = SHA) -> Clip:
    return Clip(path, sha256, path.split("/")[0], 0, 0, True)


def test_review_path_is_beside_the_spec() -> None:
    assert review_path(Path("/c/spring.yaml")) == Path("/c/spring.review.yaml")


def test_problems_name_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "pick.review.yaml",
        f"version: 1\nclips:\n  a/clip-0.mp4:\n    verdict: approve\n    sha256: {SHA}\n"
        f"  ../x/clip-1.mp4:\n    verdict: rejected\n    sha256: {SHA}\n"
        "  a/clip-2.mp4:\n    verdict: approved\n    sha256: abc\n    stars: 6\n",
    )
    with pytest.raises(SpecError) as caught:
        load_review(path)
    lines = [p.format() for p in caught.value.problems]  # type: ignore[attr-defined]
    assert any(
        line.startswith(f"{path}:4:") and "'approve' is not one of" in line for line in lines
    )
    assert any(f"{path}:6:" in line and "invalid name '../x/clip-1.mp4'" in line for line in lines)
    assert any(f"{path}:11:" in line and "64 lowercase hex digits" in line for line in lines)
    assert any(f"{path}:12:" in line for line in lines)


def test_two_approved_clips_of_one_step_are_a_problem(tmp_path: Path) -> None:
    text = "version: 1\nclips:\n"
    for name in ("clip-0", "clip-1", "ext1-clip-0"):
        text += f"  a/{name}.mp4:\n    verdict: approved\n    sha256: {SHA}\n"
    path = write(tmp_path / "pick.review.yaml", text)
    with pytest.raises(SpecError) as caught:
        load_review(path)
    [problem] = caught.value.problems
    assert "a/clip-0.mp4 and a/clip-1.mp4 are both approved" in problem.format()


def test_written_form_is_stable_and_sorted() -> None:
    one = Verdict("b/clip-0.mp4", SHA, "rejected", None, "too dark", "ana", "2026-12-01T10:00:00Z")
    two = Verdict("a/clip-1.mp4", SHA, "approved", 4, None, "bo", "2026-12-01T11:00:00Z")
    text = render_review(Review({one.clip: one, two.clip: two}), "pick.yaml")
    body = text.split("\n", 2)[2]
    assert body == (
        "version: 1\nclips:\n"
        f"  a/clip-1.mp4:\n    verdict: approved\n    stars: 4\n    sha256: {SHA}\n"
        '    by: "bo"\n    at: "2026-12-01T11:00:00Z"\n'
        f'  b/clip-0.mp4:\n    verdict: rejected\n    note: "too dark"\n    sha256: {SHA}\n'
        '    by: "ana"\n    at: "2026-12-01T10:00:00Z"\n'
    )
    assert render_review(Review({two.clip: two, one.clip: one}), "pick.yaml") == text


@pytest.mark.parametrize(
    "note",
    [
        'two\nlines: "quoted" # not a comment',
        "caf\u00e9 \U0001f3ac",
        "odd \u2028\x85\x7f\ufeff",
        "yes",
    ],
)
def test_any_text_reads_back_as_written(tmp_path: Path, note: str) -> None:
    digits = "1" * 64  # plain, YAML would read it as a number
    verdicts = {
        "my job/clip-0.mp4": Verdict("my job/clip-0.mp4", SHA, "approved", 2, note, note, "t"),
        "x/ext1-clip-1.mp4": Verdict("x/ext1-clip-1.mp4", digits, None, None, note, "no", ""),
    }
    path = write(tmp_path / "pick.review.yaml", render_review(Review(verdicts), "pick.yaml"))
    assert load_review(path).verdicts == verdicts


def test_a_verdict_is_on_one_clip_content() -> None:
    review = Review({"a/clip-0.mp4": Verdict("a/clip-0.mp4", SHA, "approved")})
    assert review.on("a/clip-0.mp4", SHA) is not None
    assert review.on("a/clip-0.mp4", "b" * 64) is None  # a new clip under the same name


def test_concurrent_writers_lose_no_edit(tmp_path: Path) -> None:
    path = tmp_path / "pick.review.yaml"
    start = threading.Barrier(8)

    def mark(n: int) -> None:
        clip = _clip(f"job-{n}/clip-0.mp4")
        start.wait()
        for stars in range(1, 6):
            change = Change(None, stars, None)
            edit = lambda r, change=change: apply_change(r, clip, change, "t", "now")  # noqa: E731
            update_review(path, edit, "pick.yaml")

    workers = [threading.Thread(target=mark, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    verdicts = load_review(path).verdicts
    assert sorted(verdicts) == [f"job-{n}/clip-0.mp4" for n in range(8)]
    assert {v.stars for v in verdicts.values()} == {5}


def test_validate_checks_the_review_file_beside_its_spec(tmp_path: Path) -> None:
    spec = write(tmp_path / "pick.yaml", SPEC)
    assert mjv("validate", str(tmp_path)).code == 0  # no review file yet: fine
    write(tmp_path / "pick.review.yaml", "version: 1\nclips:\n  a/clip-0.mp4: {verdict: yes}\n")
    checked = mjv("validate", str(spec))
    assert checked.code == 1
    assert f"{tmp_path / 'pick.review.yaml'}:3:" in checked.out
    listed = mjv("validate", str(tmp_path))  # the folder: the review file is not a spec
    assert "pick.review.yaml:3:" in listed.out and f"{spec}: ok (1 jobs)" in listed.out
    assert "2 file(s) checked: 1 valid, 1 invalid" in listed.out


def test_a_broken_review_file_stops_a_plan_with_its_line(tmp_path: Path) -> None:
    spec = write(tmp_path / "pick.yaml", SPEC)
    write(tmp_path / "pick.review.yaml", "version: 2\nclips: {}\n")
    write(tmp_path / "out" / "pick" / "manifest.json", '{"manifest_version": 1, "campaign": "x"}')
    shown = mjv("report", str(spec))
    assert shown.code != 0 and "pick.review.yaml" in shown.err


def test_review_schema_passes_its_metaschema_and_is_packaged() -> None:
    from jsonschema import Draft202012Validator

    from orchestrator.review.reviewfile import SCHEMA_PATH

    repository = Path(__file__).resolve().parent.parent / "schema" / "review.schema.json"
    assert SCHEMA_PATH.read_bytes() == repository.read_bytes()
    schema = json.loads(repository.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    verdict = schema["$defs"]["verdict"]
    assert all("description" in field for field in verdict["properties"].values())
    assert verdict["additionalProperties"] is False and schema["additionalProperties"] is False
