"""`mjv init`: a campaign repository that validates and rehearses at once, keeps state and clips
out of git, never overwrites a file, and gives editors the schema from inside the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from lspclient import LspClient
from runsupport import mjv

from orchestrator.errors import EXIT_USAGE
from orchestrator.scaffold import SCHEMA, SPEC, WORKFLOW, scaffold
from orchestrator.spec.schema import SCHEMA_PATH


def test_init_makes_a_repository_whose_spec_validates_and_runs_simulated(tmp_path: Path) -> None:
    root = tmp_path / "films"
    made = mjv("init", str(root))
    assert made.code == 0, made.err
    assert f"created               {root / SPEC}" in made.out
    assert (root / "campaigns/first/assets/sample.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checked = mjv("validate", str(root))
    assert checked.code == 0, checked.out
    assert checked.out.splitlines()[-1] == "1 file(s) checked: 1 valid"
    ran = mjv("run", str(root / SPEC), "--simulate", "--quiet")
    assert ran.code == 0, ran.out + ran.err
    assert "2/2 jobs done" in ran.out


def test_init_never_overwrites_and_fills_in_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("mine\n")
    first = scaffold(tmp_path)
    assert [item.created for item in first if item.path.name == ".gitignore"] == [False]
    assert (tmp_path / ".gitignore").read_text() == "mine\n"
    (tmp_path / SPEC).write_text("edited\n")
    (tmp_path / WORKFLOW).unlink()
    again = mjv("init", str(tmp_path))
    assert again.code == 0
    assert f"created               {tmp_path / WORKFLOW}" in again.out
    assert f"kept (already there)  {tmp_path / SPEC}" in again.out
    assert (tmp_path / SPEC).read_text() == "edited\n"


def test_init_into_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = mjv("init", str(tmp_path / "f"))
    assert result.code == EXIT_USAGE and "not a folder" in result.err


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_keeps_specs_and_manifests_and_ignores_state_clips_and_simulated_runs(
    tmp_path: Path,
) -> None:
    scaffold(tmp_path)
    out = tmp_path / "campaigns/first/out"
    kept = [
        "campaigns/first/campaign.yaml",
        "campaigns/first/first.review.yaml",
        "campaigns/first/out/first/manifest.json",
        "schema/campaign.schema.json",
    ]
    ignored = [
        ".mjv/state.db",
        ".mjv/state-simulated.world.jsonl",
        "campaigns/first/.mjv/state.db",
        "campaigns/first/out/first/j/clip-0.mp4",
        "campaigns/first/out/first/report.html",
        "campaigns/first/out/first-simulated/manifest.json",
    ]
    out.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    answer = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "--no-index", *kept, *ignored],
        capture_output=True,
        text=True,
        env=env,
    )
    assert answer.stdout.split() == ignored


def test_the_workflow_and_the_pre_commit_hook_need_no_tag_nor_placeholder(tmp_path: Path) -> None:
    scaffold(tmp_path, "mjv @ file:///opt/mjv")
    workflow = yaml.safe_load((tmp_path / WORKFLOW).read_text())
    steps = workflow["jobs"]["validate"]["steps"]
    assert workflow[True] == ["pull_request"]  # YAML 1.1 reads the key `on` as True
    runs = " ".join(step.get("run", "") for step in steps)
    assert 'pip install "mjv @ file:///opt/mjv"' in runs
    assert "mjv validate --format github campaigns/" in runs
    assert '--format markdown >> "$GITHUB_STEP_SUMMARY"' in runs
    hooks = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())
    (repo,) = hooks["repos"]
    assert repo["repo"] == "local" and "rev" not in repo
    assert repo["hooks"][0]["additional_dependencies"] == ["mjv @ file:///opt/mjv"]
    assert "<owner>" not in (tmp_path / WORKFLOW).read_text()


def test_the_spec_names_the_schema_written_beside_it(tmp_path: Path) -> None:
    scaffold(tmp_path)
    first = (tmp_path / SPEC).read_text().splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match
    schema = (tmp_path / SPEC).parent / match.group(1)
    assert schema.resolve() == (tmp_path / SCHEMA).resolve()
    assert schema.read_bytes() == SCHEMA_PATH.read_bytes()


def _language_server() -> list[str] | None:
    """The YAML language server: MJV_YAML_LANGUAGE_SERVER (its bin script), or on PATH."""
    script = os.environ.get("MJV_YAML_LANGUAGE_SERVER")
    if script and shutil.which("node"):
        return ["node", script, "--stdio"]
    found = shutil.which("yaml-language-server")
    return [found, "--stdio"] if found else None


@pytest.mark.skipif(_language_server() is None, reason="the YAML language server is not installed")
def test_the_yaml_language_server_completes_and_documents_keys_from_the_schema(
    tmp_path: Path,
) -> None:
    scaffold(tmp_path)
    spec = tmp_path / SPEC
    text = spec.read_text() + "\nbud"
    command = _language_server()
    assert command is not None
    client = LspClient(command)
    try:
        client.request(
            "initialize",
            {
                "processId": None,
                "rootUri": tmp_path.as_uri(),
                "capabilities": {},
                "workspaceFolders": None,
            },
        )
        client.notify("initialized", {})
        client.notify(
            "workspace/didChangeConfiguration",
            {"settings": {"yaml": {"completion": True, "hover": True}}},
        )
        document = {"uri": spec.as_uri(), "languageId": "yaml", "version": 1, "text": text}
        client.notify("textDocument/didOpen", {"textDocument": document})
        at = {"line": text.count("\n"), "character": 3}
        found = client.request(
            "textDocument/completion", {"textDocument": {"uri": spec.as_uri()}, "position": at}
        )
        line = next(i for i, x in enumerate(text.splitlines()) if x.startswith("campaign:"))
        hover = client.request(
            "textDocument/hover",
            {"textDocument": {"uri": spec.as_uri()}, "position": {"line": line, "character": 2}},
        )
    finally:
        client.close()
    labels = {item["label"] for item in (found["items"] if isinstance(found, dict) else found)}
    assert "budget" in labels
    assert "Campaign name" in hover["contents"]["value"]
    assert (tmp_path / SCHEMA).as_uri() in hover["contents"]["value"]
