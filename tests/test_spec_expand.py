"""Expansion, settings precedence, and job identity (fingerprints) of loaded campaigns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.model import Campaign, RunOptions, fingerprint
from orchestrator.spec import load_campaign
from orchestrator.spec.expand import matrix_rows
from orchestrator.spec.templates import Template, TemplateError

REPO = Path(__file__).resolve().parent.parent
PNG = (REPO / "specs" / "assets" / "bottle.png").read_bytes()

BASE = """\
version: 1
campaign: ident
images:
  sneaker: {url: "https://cdn.example.com/sneaker.png"}
  bottle: {url: "https://cdn.example.com/bottle.png"}
prompts:
  orbit: "slow orbit, {{ mood }} light"
  push: "push in"
jobs:
  - name: "{{ image }}-{{ prompt }}-{{ mood }}"
    images: [sneaker, bottle]
    prompts: [orbit, push]
    matrix: {mood: [warm, cold]}
    extend: [{prompt: "keep orbiting"}, {}]
"""


def _load(tmp_path: Path, text: str, name: str = "spec.yaml") -> Campaign:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_campaign(path)


def _fingerprints(campaign: Campaign) -> dict[str, str]:
    return {job.name: job.fingerprint for job in campaign.jobs}


def test_expansion_order_is_images_prompts_rows(tmp_path: Path) -> None:
    names = [job.name for job in _load(tmp_path, BASE).jobs]
    assert names[:4] == [
        "sneaker-orbit-warm",
        "sneaker-orbit-cold",
        "sneaker-push-warm",
        "sneaker-push-cold",
    ]
    assert len(names) == 8


def test_job_fingerprint_is_exactly_the_request_plus_take(tmp_path: Path) -> None:
    job = _load(tmp_path, BASE).jobs[0]
    expected = fingerprint(
        {
            "image": {"url": "https://cdn.example.com/sneaker.png"},
            "end_image": None,
            "prompt": "slow orbit, warm light",
            "settings": {
                "mode": "fast",
                "video_type": "vid_1.1_i2v_480",
                "animate": "manual",
                "motion": "low",
                "batch_size": 1,
                "loop": False,
                "raw": False,
            },
            "take": 1,
        }
    )
    assert job.fingerprint == expected
    first = fingerprint(
        {"parent": expected, "prompt": "keep orbiting", "motion": "low", "index": 0}
    )
    second = fingerprint({"parent": first, "prompt": None, "motion": "low", "index": 0})
    assert [step.fingerprint for step in job.extensions] == [first, second]


def test_renaming_reordering_and_adding_a_job_change_no_fingerprint(tmp_path: Path) -> None:
    before = set(_fingerprints(_load(tmp_path, BASE)).values())
    renamed = BASE.replace(
        'name: "{{ image }}-{{ prompt }}-{{ mood }}"',
        'name: "x-{{ image }}-{{ prompt }}-{{ mood }}"',
    )
    assert set(_fingerprints(_load(tmp_path, renamed)).values()) == before
    reordered = BASE.replace("[sneaker, bottle]", "[bottle, sneaker]").replace(
        "[warm, cold]", "[cold, warm]"
    )
    assert set(_fingerprints(_load(tmp_path, reordered)).values()) == before
    added = BASE + "  - {name: other, images: [sneaker], prompts: [push], motion: high}\n"
    assert before < set(_fingerprints(_load(tmp_path, added)).values())


def test_changing_one_word_of_a_prompt_changes_exactly_its_jobs(tmp_path: Path) -> None:
    before = _fingerprints(_load(tmp_path, BASE))
    after = _fingerprints(_load(tmp_path, BASE.replace('"push in"', '"push out"')))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {name for name in before if "-push-" in name}


def test_changing_step_two_keeps_the_base_clip_and_step_one(tmp_path: Path) -> None:
    before = _load(tmp_path, BASE).jobs[0]
    after = _load(tmp_path, BASE.replace("{}]", "{motion: high}]")).jobs[0]
    assert after.fingerprint == before.fingerprint
    assert after.extensions[0].fingerprint == before.extensions[0].fingerprint
    assert after.extensions[1].fingerprint != before.extensions[1].fingerprint
    assert after.extensions[1].motion == "high"


def test_takes_are_distinct_identities_of_the_same_request(tmp_path: Path) -> None:
    text = BASE.replace("    extend:", "    takes: 2\n    extend:").replace(
        '{{ mood }}"', '{{ mood }}-{{ take }}"'
    )
    jobs = _load(tmp_path, text).jobs
    assert [job.take for job in jobs[:2]] == [1, 2]
    assert jobs[0].prompt == jobs[1].prompt and jobs[0].fingerprint != jobs[1].fingerprint


def test_settings_precedence_defaults_job_then_matrix(tmp_path: Path) -> None:
    text = BASE.replace("jobs:\n", "defaults: {motion: high, mode: relax, batch_size: 2}\njobs:\n")
    text = text.replace(
        "    matrix: {mood: [warm, cold]}",
        "    mode: turbo\n    matrix: {mood: [warm, cold], batch_size: [4]}",
    )
    job = _load(tmp_path, text).jobs[0]
    assert (job.settings.motion, job.settings.mode, job.settings.batch_size) == ("high", "turbo", 4)


def test_local_files_and_globs(tmp_path: Path) -> None:
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "b.png").write_bytes(PNG)
    (tmp_path / "shots" / "a.png").write_bytes(PNG + b"x")
    (tmp_path / "one.png").write_bytes(PNG)
    text = BASE.replace(
        '  bottle: {url: "https://cdn.example.com/bottle.png"}',
        '  bottle: {file: one.png}\n  shots: {glob: "shots/*.png"}',
    ).replace("[sneaker, bottle]", "[shots, bottle]")
    jobs = _load(tmp_path, text).jobs
    assert [job.image.name for job in jobs[::4]] == ["shots/a", "shots/b", "bottle"]
    bottle = jobs[-1].image
    assert bottle.kind == "file" and bottle.path == (tmp_path / "one.png").resolve()
    assert bottle.sha256 == hashlib.sha256(PNG).hexdigest()
    assert jobs[4].fingerprint != jobs[0].fingerprint  # a.png and b.png differ in content


def test_same_content_gives_the_same_identity(tmp_path: Path) -> None:
    (tmp_path / "one.png").write_bytes(PNG)
    (tmp_path / "copy.png").write_bytes(PNG)
    text = BASE.replace(
        '  bottle: {url: "https://cdn.example.com/bottle.png"}', "  bottle: {file: one.png}"
    )
    first = _load(tmp_path, text).jobs[4].fingerprint
    moved = _load(tmp_path, text.replace("one.png", "copy.png")).jobs[4].fingerprint
    assert first == moved


def test_campaign_fields_and_defaults(tmp_path: Path) -> None:
    campaign = _load(tmp_path, BASE)
    assert campaign.name == "ident" and campaign.description == ""
    assert campaign.output_dir == (tmp_path / "out" / "ident").resolve()
    assert dict(campaign.pricing) == {"fast": 0.6}
    assert campaign.price("relax") is None and campaign.max_cost is None
    assert campaign.run == RunOptions()
    job = campaign.jobs[0]
    assert job.output_name == job.name and job.prompt_name == "orbit" and job.end_image is None


def test_output_pricing_budget_and_run_sections(tmp_path: Path) -> None:
    extra = (
        "vars: {root: renders}\n"
        'output: {dir: "{{ root }}/{{ campaign }}", name: "{{ prompt }}/{{ job }}"}\n'
        "pricing: {relax: 0.2, imagine: 0.075}\nbudget: {max_cost: 12.5}\n"
        "run: {concurrency: 5, max_rps: 4, poll_interval: 1, task_timeout: 60,\n"
        "      max_attempts: 2, max_banned_in_row: 1}\n"
    )
    campaign = _load(tmp_path, BASE + extra)
    assert campaign.output_dir == (tmp_path / "renders" / "ident").resolve()
    assert campaign.jobs[0].output_name == "orbit/sneaker-orbit-warm"
    assert dict(campaign.pricing) == {"fast": 0.6, "relax": 0.2, "imagine": 0.075}
    assert campaign.max_cost == 12.5
    assert campaign.run == RunOptions(5, 4.0, 1.0, 60.0, 2, 1)


def test_animate_auto_without_prompts_has_no_prompt(tmp_path: Path) -> None:
    text = (
        BASE.split("jobs:\n")[0]
        + "jobs:\n  - {images: [sneaker], animate: auto, takes: 2, end_image: bottle}\n"
    )
    jobs = _load(tmp_path, text).jobs
    assert [job.name for job in jobs] == ["sneaker-1", "sneaker-2"]
    assert jobs[0].prompt is None and jobs[0].prompt_name is None
    assert (
        jobs[0].end_image is not None
        and jobs[0].end_image.url == "https://cdn.example.com/bottle.png"
    )


def test_imagine_source_identity(tmp_path: Path) -> None:
    text = BASE.replace(
        '{url: "https://cdn.example.com/bottle.png"}', '{imagine: "a castle", pick: 2}'
    )
    image = _load(tmp_path, text).jobs[4].image
    assert (image.kind, image.imagine, image.pick) == ("imagine", "a castle", 2)
    assert image.identity() == {"imagine": "a castle", "pick": 2}


@pytest.mark.parametrize(
    ("matrix", "rows"),
    [
        ({}, [{}]),
        ({"a": [1, 2]}, [{"a": 1}, {"a": 2}]),
        (
            {"a": [1, 2], "b": ["x", "y"], "exclude": [{"a": 2, "b": "y"}]},
            [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}],
        ),
        (
            {"a": [1, 2], "b": ["x"], "include": [{"a": 3, "b": "z"}]},
            [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 3, "b": "z"}],
        ),
        ({"a": [1, 2], "exclude": [{"a": 1}, {"a": 2}]}, []),
        ({"include": [{"a": 1}, {"a": 2}]}, [{"a": 1}, {"a": 2}]),
        (
            {"a": [1], "b": ["x", "y"], "include": [{"a": 1}]},
            [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}],
        ),
    ],
)
def test_matrix_rows_follow_github_actions(
    matrix: dict[str, object], rows: list[dict[str, object]]
) -> None:
    assert matrix_rows(matrix) == rows


@pytest.mark.parametrize(
    ("source", "context"),
    [
        ("a {{ x }} b {{y}}", {"x": 1, "y": True}),
        ("{{ x }}", {"x": None}),
        ("  {{x}}\n", {"x": 2.5}),
        ("{{ x|upper }} {% if y %}yes{% endif %}", {"x": "a", "y": 1}),
        ("{{ true }} {{ x }}", {"x": "t"}),
        ("}} {{ x }}", {"x": "t"}),
    ],
)
def test_plain_fast_path_renders_like_jinja2(source: str, context: dict[str, object]) -> None:
    import jinja2

    expected = jinja2.Environment().from_string(source).render(context).strip()
    assert Template(source).render(context) == expected


def test_templates_report_missing_variables_and_syntax_errors() -> None:
    with pytest.raises(TemplateError, match="undefined variable 'mood'"):
        Template("{{ brand }} {{ mood }}").render({"brand": "x"})
    with pytest.raises(TemplateError, match="undefined variable 'mood'"):
        Template("{{ mood|upper }}").render({})
    with pytest.raises(TemplateError) as info:
        Template("line one\n{{ oops")
    assert info.value.line == 2 and info.value.message.startswith("template syntax error")
    with pytest.raises(TemplateError, match="cannot render"):
        Template("{{ x.y.z }}").render({"x": {}})


def test_templates_are_sandboxed() -> None:
    with pytest.raises(TemplateError, match="cannot render"):
        Template("{{ x.__class__.__mro__ }}").render({"x": "s"})


def test_end_image_naming_a_missing_file_is_one_problem_not_a_crash(tmp_path: Path) -> None:
    text = BASE.replace('{url: "https://cdn.example.com/bottle.png"}', "{file: gone.png}")
    text = text.replace("    extend:", "    end_image: bottle\n    extend:")
    with pytest.raises(SpecError) as info:
        _load(tmp_path, text)
    problems = [p.format() for p in info.value.problems]  # type: ignore[attr-defined]
    assert problems == [
        f"{tmp_path / 'spec.yaml'}:5:18: $.images.bottle.file: image file not found: gone.png"
    ]


def test_glob_in_a_folder_with_glob_characters_and_clashing_stems(tmp_path: Path) -> None:
    folder = tmp_path / "[draft]"
    for sub in ("a", "b"):
        (folder / "shots" / sub).mkdir(parents=True)
        (folder / "shots" / sub / "x.png").write_bytes(PNG + sub.encode())
    text = BASE.replace('{url: "https://cdn.example.com/bottle.png"}', '{glob: "shots/**/*.png"}')
    with pytest.raises(SpecError) as info:
        _load(folder, text)
    problems = [p.message for p in info.value.problems]  # type: ignore[attr-defined]
    assert problems == ["two files make the image name 'bottle/x'; rename one"]
    only_a = text.replace("shots/**/*.png", "shots/a/*.png")
    assert _load(folder, only_a).jobs[4].image.name == "bottle/x"


def test_undefined_variable_points_at_its_tag_even_in_a_block_scalar(tmp_path: Path) -> None:
    text = BASE.replace(
        '  push: "push in"',
        "  push: |\n    push in\n    with {% if x is defined %}{{ x }}{% endif %}{{ lens }}",
    )
    with pytest.raises(SpecError) as info:
        _load(tmp_path, text)
    (problem,) = info.value.problems  # type: ignore[attr-defined]
    assert (problem.line, problem.col, problem.path) == (10, 52, "$.prompts.push")
    assert problem.message == "undefined variable 'lens' in job 'sneaker-push-warm'"
