"""The campaign stays in its folder: files, globs and output.dir are confined to the spec's
folder tree, or to the git repository that holds the spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.model import Campaign
from orchestrator.spec import check_spec, load_campaign
from orchestrator.spec.images import MAX_IMAGE_BYTES
from orchestrator.spec.paths import Confinement, glob_problem, path_text_problem

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
HEAD = "version: 1\ncampaign: paths\nimages:\n"
TAIL = "jobs:\n  - images: [x]\n    animate: auto\n"


def _spec(folder: Path, images: str, tail: str = TAIL) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "s.yaml"
    spec.write_text(HEAD + images + tail, encoding="utf-8")
    return spec


def _messages(spec: Path) -> list[str]:
    return [f"{p.line}:{p.col}: {p.path}: {p.message}" for p in check_spec(spec)]


def _load(spec: Path) -> Campaign:
    return load_campaign(spec)


def test_parent_file_is_refused_outside_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "shared.png").write_bytes(PNG)
    spec = _spec(tmp_path / "camp", "  x: {file: ../shared.png}\n")
    assert _messages(spec) == [
        "4:13: $.images.x.file: image file ../shared.png is outside the spec's folder"
    ]


def test_parent_file_inside_the_git_repository_is_allowed(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "shared.png").write_bytes(PNG)
    spec = _spec(tmp_path / "specs", "  x: {file: ../assets/shared.png}\n")
    assert _load(spec).jobs[0].image.path == (tmp_path / "assets" / "shared.png").resolve()


def test_climbing_out_of_the_git_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(PNG)
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    spec = _spec(tmp_path / "repo" / "specs", "  x: {file: ../../secret.png}\n")
    (message,) = _messages(spec)
    assert message.startswith("4:13: $.images.x.file: image file ../../secret.png is outside ")
    assert f"the spec's folder or its git repository ({(tmp_path / 'repo').resolve()})" in message


def test_absolute_file_is_refused_even_inside_the_folder(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(PNG)
    spec = _spec(tmp_path, f"  x: {{file: {tmp_path / 'x.png'}}}\n")
    (message,) = _messages(spec)
    assert "is an absolute path; paths are relative to the spec's folder" in message


def test_symlink_pointing_out_is_refused_and_inside_is_fine(tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(PNG)
    camp = tmp_path / "camp"
    camp.mkdir()
    (camp / "inside.png").write_bytes(PNG)
    (camp / "out-link.png").symlink_to(tmp_path / "outside.png")
    (camp / "in-link.png").symlink_to(camp / "inside.png")
    spec = _spec(camp, "  x: {file: in-link.png}\n  y: {file: out-link.png}\n")
    assert _messages(spec) == [
        "5:13: $.images.y.file: image file out-link.png is outside the spec's folder"
    ]


def test_glob_skips_nothing_silently_a_symlink_out_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(PNG)
    camp = tmp_path / "camp"
    (camp / "shots").mkdir(parents=True)
    (camp / "shots" / "a.png").write_bytes(PNG)
    (camp / "shots" / "b.png").symlink_to(tmp_path / "outside.png")
    spec = _spec(camp, "  x: {glob: 'shots/*.png'}\n")
    assert _messages(spec) == [
        "4:13: $.images.x.glob: image file shots/b.png is outside the spec's folder"
    ]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("/**/*.png", "is an absolute path"),
        ("../*.png", "has a '..' segment; a glob may not climb out of the spec's folder"),
        ("shots/../../*.png", "has a '..' segment"),
    ],
)
def test_globs_may_not_climb_out(tmp_path: Path, pattern: str, message: str) -> None:
    (tmp_path / ".git").mkdir()  # even inside a repository
    spec = _spec(tmp_path / "camp", f"  x: {{glob: '{pattern}'}}\n")
    (found,) = _messages(spec)
    assert found.startswith(f"4:13: $.images.x.glob: glob {pattern!r} {message}")


def test_image_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    with (tmp_path / "big.png").open("wb") as handle:
        handle.write(PNG)
        handle.truncate(MAX_IMAGE_BYTES + 1)  # sparse: no 20 MB written
    spec = _spec(tmp_path, "  x: {file: big.png}\n")
    assert _messages(spec) == ["4:13: $.images.x.file: image file big.png is larger than 20 MB"]


def test_missing_file_suggests_a_nearby_name(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "sneaker.png").write_bytes(PNG)
    (tmp_path / "assets" / "bottle.png").write_bytes(PNG)
    spec = _spec(tmp_path, "  x: {file: assets/sneakr.png}\n  y: {file: assets/zzz.png}\n")
    assert _messages(spec) == [
        "4:13: $.images.x.file: image file not found: assets/sneakr.png "
        "(did you mean 'assets/sneaker.png'?)",
        "5:13: $.images.y.file: image file not found: assets/zzz.png",
    ]


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("../elsewhere", "output folder '../elsewhere' is outside the spec's folder"),
        ("/tmp/anywhere", "output folder '/tmp/anywhere' is an absolute path"),
        ("out/{{ campaign }}/../../..", "output folder 'out/paths/../../..' is outside"),
    ],
)
def test_output_dir_must_stay_in_the_spec_folder(tmp_path: Path, folder: str, message: str) -> None:
    (tmp_path / "x.png").write_bytes(PNG)
    spec = _spec(tmp_path / "camp", "  x: {url: 'https://cdn.example.com/x.png'}\n")
    spec.write_text(spec.read_text() + f"output: {{dir: '{folder}'}}\n", encoding="utf-8")
    (found,) = _messages(spec)
    assert found.startswith("8:15: $.output.dir: ") and message in found


def test_output_dir_may_use_the_git_repository(tmp_path: Path) -> None:
    (tmp_path / ".git").write_text("gitdir: elsewhere\n")  # a worktree's .git is a file
    spec = _spec(tmp_path / "specs", "  x: {url: 'https://cdn.example.com/x.png'}\n")
    spec.write_text(spec.read_text() + "output: {dir: '../renders'}\n", encoding="utf-8")
    assert _load(spec).output_dir == (tmp_path / "renders").resolve()


def test_symlinked_output_dir_pointing_out_is_refused(tmp_path: Path) -> None:
    camp = tmp_path / "camp"
    camp.mkdir()
    (camp / "out").symlink_to(tmp_path)
    spec = _spec(camp, "  x: {url: 'https://cdn.example.com/x.png'}\n")
    with pytest.raises(SpecError) as info:
        _load(spec)
    assert "output folder 'out/paths' is outside the spec's folder" in str(
        info.value.problems[0]  # type: ignore[attr-defined]
    )


def test_path_rules_in_isolation(tmp_path: Path) -> None:
    assert path_text_problem("a/b.png") is None
    assert path_text_problem("C:/x.png") == (
        "is an absolute path; paths are relative to the spec's folder"
    )
    assert glob_problem("a/**/b..c.png") is None
    assert glob_problem("a\\..\\b") is not None
    place = Confinement.of(tmp_path)
    assert place.roots == (tmp_path.resolve(),)
    assert place.contains(tmp_path / "a" / "b") and not place.contains(tmp_path / "..")
