"""`mjv validate FOLDER` searches it recursively (a folder per campaign), skipping output
folders, hidden folders (.mjv, .git, .github) and what --exclude names."""

from __future__ import annotations

from pathlib import Path

from runsupport import mjv

REPO = Path(__file__).resolve().parent.parent
DEMO = (REPO / "specs" / "demo.yaml").read_text()


def _tree(root: Path) -> None:
    for place in ("spring/campaign.yaml", "summer/teaser/campaign.yml", "drafts/idea.yaml"):
        (root / place).parent.mkdir(parents=True, exist_ok=True)
        (root / place).write_text(DEMO)
    for junk in (
        ".mjv/x.yaml",
        ".git/y.yaml",
        ".github/workflows/ci.yml",
        "spring/out/spring/manifest.json",
        "spring/out/spring/notes.yaml",
    ):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("not: [a spec\n")


def test_a_folder_is_searched_recursively_past_output_and_hidden_folders(tmp_path: Path) -> None:
    _tree(tmp_path)
    result = mjv("validate", str(tmp_path))
    assert result.code == 0, result.out
    checked = [line.split(":")[0] for line in result.out.splitlines()[:-1]]
    assert checked == [
        str(tmp_path / "drafts/idea.yaml"),
        str(tmp_path / "spring/campaign.yaml"),
        str(tmp_path / "summer/teaser/campaign.yml"),
    ]


def test_exclude_skips_folders_and_files_by_glob(tmp_path: Path) -> None:
    _tree(tmp_path)
    result = mjv("validate", str(tmp_path), "--exclude", "drafts", "--exclude", "*.yml")
    assert result.code == 0
    assert result.out.splitlines() == [
        f"{tmp_path / 'spring/campaign.yaml'}: ok (2 jobs)",
        "1 file(s) checked: 1 valid",
    ]
    nested = mjv("validate", str(tmp_path), "--exclude", "summer/*")
    assert "teaser" not in nested.out


def test_a_broken_spec_deep_in_the_tree_is_found(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "summer/teaser/campaign.yml").write_text("version: 1\ncampaign: Bad\n")
    result = mjv("validate", str(tmp_path))
    assert result.code == 1
    assert f"{tmp_path / 'summer/teaser/campaign.yml'}:2:" in result.out


def test_the_examples_folder_still_validates() -> None:
    result = mjv("validate", str(REPO / "specs"))
    assert result.code == 0
