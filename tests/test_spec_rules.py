"""Spec rules: Jinja2 idioms, loop with an end image, shared output folders, pricing keys,
imagine modes, each job's matrix row, and YAML messages that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.spec import check_spec, load_campaign
from orchestrator.spec.loader import DEFAULT_PRICING

HEAD = """\
version: 1
campaign: rules
vars: {subject: sneaker}
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
"""


def _write(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "s.yaml"
    spec.write_text(text, encoding="utf-8")
    return spec


def _messages(tmp_path: Path, text: str) -> list[str]:
    return [f"{p.line}:{p.col}: {p.path}: {p.message}" for p in check_spec(_write(tmp_path, text))]


def _prompt(tmp_path: Path, template: str) -> str | None:
    text = HEAD + f"prompts:\n  p: {template!r}\njobs:\n  - images: [a]\n    prompts: [p]\n"
    return load_campaign(_write(tmp_path, text)).jobs[0].prompt


@pytest.mark.parametrize(
    ("template", "prompt"),
    [
        ("orbit the {{ thing | default('table') }}", "orbit the table"),
        ("orbit{% if extra is defined %} {{ extra }}{% endif %}", "orbit"),
        ("orbit{% if extra is undefined %} slowly{% endif %}", "orbit slowly"),
        ("{{ subject | default('table') }}{% if subject is defined %}!{% endif %}", "sneaker!"),
        ("{% set x = 3 %}{{ x }} {{ (subject ~ '') | upper }}", "3 SNEAKER"),
    ],
)
def test_jinja_idioms_for_variables_that_are_not_given(
    tmp_path: Path, template: str, prompt: str
) -> None:
    assert _prompt(tmp_path, template) == prompt


def test_truthiness_of_a_missing_variable_fails_as_in_strict_jinja(tmp_path: Path) -> None:
    text = HEAD + "prompts:\n  p: 'x{% if extra %}y{% endif %}'\njobs:\n  - images: [a]\n"
    text += "    prompts: [p]\n"
    assert _messages(tmp_path, text) == [
        "8:14: $.prompts.p: undefined variable 'extra' in job 'a-p'"
    ]


def test_undefined_variable_suggests_a_known_name(tmp_path: Path) -> None:
    text = HEAD + "prompts:\n  p: 'orbit the {{ subjet }}'\n"
    text += "  q: 'orbit {% if x is defined %}{{ moood }}{% endif %}'\n"
    text += "jobs:\n  - images: [a]\n    prompts: [p, q]\n    matrix: {mood: [warm]}\n"
    assert _messages(tmp_path, text) == [
        "8:20: $.prompts.p: undefined variable 'subjet' (did you mean 'subject'?) "
        "in job 'a-p-warm'",
    ]


@pytest.mark.parametrize(
    ("settings", "own", "where"),
    [
        ("{loop: true, end_image: b}", "", "3:35: $.defaults.end_image"),
        ("{loop: true}", "    end_image: b\n", "10:16: $.jobs[0].end_image"),
        ("{end_image: b}", "    loop: true\n", "3:23: $.defaults.end_image"),
    ],
)
def test_loop_with_an_end_image_is_refused_wherever_they_come_from(
    tmp_path: Path, settings: str, own: str, where: str
) -> None:
    job = "jobs:\n  - images: [a]\n    animate: auto\n" + own
    text = HEAD.replace("vars: {subject: sneaker}", f"defaults: {settings}") + job
    (message,) = _messages(tmp_path, text)
    assert message.startswith(f"{where}: loop: true with end_image 'b': the provider would")


def test_loop_from_a_matrix_row_with_an_end_image_is_refused(tmp_path: Path) -> None:
    text = HEAD + "jobs:\n  - images: [a]\n    animate: auto\n    end_image: b\n"
    text += "    matrix: {loop: [false, true]}\n"
    (message,) = _messages(tmp_path, text)
    assert message.startswith("10:16: $.jobs[0].end_image: loop: true with end_image 'b'")


def test_loop_alone_and_end_image_alone_are_fine(tmp_path: Path) -> None:
    text = HEAD + "jobs:\n  - images: [a]\n    animate: auto\n    end_image: b\n"
    text += "    matrix: {loop: [false]}\n  - images: [b]\n    animate: auto\n    loop: true\n"
    assert len(load_campaign(_write(tmp_path, text)).jobs) == 2


def test_two_jobs_in_one_output_folder_name_both_jobs(tmp_path: Path) -> None:
    text = HEAD + "jobs:\n  - images: [a, b]\n    animate: auto\noutput:\n  name: same\n"
    assert _messages(tmp_path, text) == [
        "11:9: $.output.name: jobs 'a' ($.jobs[0]) and 'b' ($.jobs[0]) both write to the output "
        "folder 'same'; output.name must tell them apart"
    ]


def test_output_name_without_the_prompt_collides_across_prompts(tmp_path: Path) -> None:
    text = HEAD + "prompts: {p: push, q: pull}\njobs:\n  - images: [a]\n    prompts: [p, q]\n"
    text += "  - images: [b]\n    prompts: [p]\noutput: {name: '{{ image }}'}\n"
    assert _messages(tmp_path, text) == [
        "13:16: $.output.name: jobs 'a-p' ($.jobs[0]) and 'a-q' ($.jobs[0]) both write to the "
        "output folder 'a'; output.name must tell them apart"
    ]


def test_output_folders_differing_only_by_dot_segments_collide(tmp_path: Path) -> None:
    text = HEAD + "jobs:\n  - images: [a]\n    animate: auto\n    name: x\n"
    text += "  - images: [b]\n    animate: auto\n    name: y\n"
    text += "output: {name: \"{{ 'k/./v' if job == 'x' else 'k/v' }}\"}\n"
    (message,) = _messages(tmp_path, text)
    assert "jobs 'x' ($.jobs[0]) and 'y' ($.jobs[1]) both write to the output folder 'k/v'" in (
        message
    )


def test_every_pricing_key_is_accepted_and_typos_are_refused(tmp_path: Path) -> None:
    prices = (
        "{fast: 0.5, relax: 0.2, turbo: 1, imagine: 0.07, upscale: 0.03, upload: 0, modal: 0.1}"
    )
    job = "jobs:\n  - images: [a]\n    animate: auto\n"
    campaign = load_campaign(_write(tmp_path, HEAD + f"pricing: {prices}\n" + job))
    assert dict(campaign.pricing) == {
        "fast": 0.5,
        "relax": 0.2,
        "turbo": 1,
        "imagine": 0.07,
        "upscale": 0.03,
        "upload": 0,
        "modal": 0.1,
    }
    assert DEFAULT_PRICING == {"fast": 0.6}
    assert _messages(tmp_path, HEAD + "pricing: {upscal: 1, modal: -1}\n" + job) == [
        "7:11: $.pricing.upscal: unknown key 'upscal' (did you mean 'upscale'?)",
        "7:29: $.pricing.modal: -1 is less than the minimum of 0",
    ]


def test_imagine_mode_is_read_and_is_not_part_of_the_identity(tmp_path: Path) -> None:
    text = HEAD + "  c: {imagine: a castle, pick: 2, mode: relax}\n"
    text += "jobs:\n  - images: [c]\n    animate: auto\n"
    relax = load_campaign(_write(tmp_path, text)).jobs[0]
    fast = load_campaign(_write(tmp_path, text.replace(", mode: relax", ""))).jobs[0]
    assert (relax.image.mode, fast.image.mode) == ("relax", "fast")
    assert relax.fingerprint == fast.fingerprint


def test_imagine_mode_is_checked(tmp_path: Path) -> None:
    text = (
        HEAD
        + "  c: {imagine: a castle, mode: slow}\n  d: {url: 'https://x.io/d.png', mode: fast}\n"
    )
    text += "jobs:\n  - images: [c]\n    animate: auto\n"
    assert _messages(tmp_path, text) == [
        "7:32: $.images.c.mode: 'slow' is not one of 'fast', 'relax', 'turbo'",
        "8:6: $.images.d: 'mode' needs 'imagine'",
    ]


def test_each_job_carries_its_matrix_row_in_axis_order(tmp_path: Path) -> None:
    text = HEAD + "jobs:\n  - images: [a]\n    animate: auto\n    matrix:\n"
    text += "      mood: [warm]\n      motion: [low, high]\n      exclude: [{motion: high}]\n"
    text += "      include: [{motion: high, mood: neon}]\n"
    text += "  - images: [b]\n    animate: auto\n"
    jobs = load_campaign(_write(tmp_path, text)).jobs
    assert [job.matrix for job in jobs] == [
        (("mood", "warm"), ("motion", "low")),
        (("mood", "neon"), ("motion", "high")),
        (),
    ]


def test_matrix_row_is_not_part_of_the_fingerprint(tmp_path: Path) -> None:
    plain = HEAD + "jobs:\n  - images: [a]\n    animate: auto\n    name: one\n"
    with_axis = plain + "    matrix: {unused: [1]}\n"
    first = load_campaign(_write(tmp_path, plain)).jobs[0]
    second = load_campaign(_write(tmp_path, with_axis)).jobs[0]
    assert second.matrix == (("unused", 1),) and first.fingerprint == second.fingerprint


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "  - {images: [a], animate: auto\n",
            "YAML syntax error: unclosed { opened at line 8, column 5",
        ),
        ("  - images: [a, b\n", "YAML syntax error: unclosed [ opened at line 8, column 13"),
    ],
)
def test_unclosed_flow_collections_say_where_they_opened(
    tmp_path: Path, line: str, message: str
) -> None:
    (found,) = _messages(tmp_path, HEAD + "jobs:\n" + line + "output: {dir: x}\n")
    assert f"$: {message} (" in found
