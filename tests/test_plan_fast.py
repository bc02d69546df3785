"""The plan's fast paths give what their slow originals give (issue 18, item 6).

Each shortcut taken for `mjv plan` of 100,000 jobs is held here to the plain computation it
replaces, over many random inputs: the safe stream's early outs, the rows of an all-new plan,
the JSON text that rows share, and the fingerprints hashed from shared prefixes.
"""

from __future__ import annotations

import io
import json
import random
import re
from dataclasses import FrozenInstanceError, asdict, dataclass, replace
from dataclasses import fields as fields_of
from pathlib import Path

import pytest
from test_plan_stream import _campaign

from orchestrator import terminal
from orchestrator.commands.plan import _row_json, _row_text
from orchestrator.frozen import fast_constructor
from orchestrator.model import Extension, ImageSource, Job, JobStatus, Settings
from orchestrator.plan import PlanRow, _row, build_plan
from orchestrator.spec import load_campaign, reserved
from orchestrator.spec.identity import (
    encode_image,
    encode_settings,
    extension_fingerprint,
    extension_hasher,
    hash_job,
    job_hasher,
)
from orchestrator.terminal import SafeStream, defuse_commands

_COMMAND_START = re.compile(r"(^|\n)([^\S\n]*):(?=:)")
_PIECES = ["a", ":", "::", " ", "\t", "\n", "#", "##[", "x:", "é", '"', "{", "}", ", "]


def _defused(text: str, at_line_start: bool) -> str:
    """``defuse_commands`` without any of its early outs."""
    text = text.replace("##[", "#\\u0023[")
    if at_line_start:
        return _COMMAND_START.sub(r"\1\2\\u003a", text)
    head, newline, rest = text.partition("\n")
    return head + newline + _COMMAND_START.sub(r"\1\2\\u003a", rest)


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randrange(0, 30)))


def test_defusing_with_early_outs_equals_the_plain_substitution() -> None:
    rng = random.Random(18)
    for _ in range(5000):
        text = _random_text(rng)
        for start in (True, False):
            assert defuse_commands(text, at_line_start=start) == _defused(text, start), text


def _written(writes: list[str]) -> str:
    sink = io.StringIO()
    stream = SafeStream(sink)
    for text in writes:
        stream.write(text)
    stream.flush()
    return sink.getvalue()


def test_the_safe_stream_writes_what_it_wrote_without_early_outs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(6)
    cases = [[_random_text(rng) for _ in range(rng.randrange(1, 8))] for _ in range(2000)]
    fast = [_written(writes) for writes in cases]
    monkeypatch.setattr(terminal, "defuse_commands", _defused)
    assert fast == [_written(writes) for writes in cases]


MIXED = """\
version: 1
campaign: mixed
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  p: "a {{ mood }} shot"
jobs:
  - images: [a, b]
    prompts: [p]
    takes: 2
    matrix: {mood: [warm, cold], batch_size: [2, 4], mode: [fast, relax]}
    extend: [{}, {index: 1}]
  - name: "{{ image }}-plain"
    images: [a, b]
    prompts: [p]
    vars: {mood: still}
pricing: {fast: 0.6}
"""


def test_an_all_new_plan_has_the_rows_that_row_makes_one_by_one(tmp_path: Path) -> None:
    spec = tmp_path / "mixed.yaml"
    spec.write_text(MIXED, encoding="utf-8")
    campaign = load_campaign(spec)
    plan = build_plan(campaign)
    price = campaign.pricing.get
    expected = [
        _row(lambda s: price(s.price_key), job, JobStatus.NEW, (), {}, {}) for job in campaign.jobs
    ]
    assert list(plan.rows) == expected
    assert {row.video_submissions for row in plan.rows} == {1, 3}
    assert {row.unpriced for row in plan.rows} == {0, 3}  # relax has no price
    assert {row.seconds for row in plan.rows} == {5.0, 26.0, 52.0}


def test_rows_sharing_their_text_are_written_like_json_dumps_in_one_plan() -> None:
    plan = build_plan(_campaign(9), orphaned=("gone",))
    numbers = [1.2, 0.0, -0.0, 3, 3.0, 2.5, 5, 5.0, 1e-7, float("inf")]
    shared: dict[object, str] = {}  # one for every row, as in write_json
    rng = random.Random(7)
    for _ in range(400):
        row = rng.choice(plan.rows)
        varied = replace(
            row,
            known_cost=rng.choice(numbers),
            unpriced=rng.choice([0, 1, 2]),
            seconds=rng.choice(numbers[:9]),
            video_submissions=rng.choice([0, 1, 2]),
            status=rng.choice(["new", "done", "failed"]),
        )
        expected = json.dumps(_row_json(varied), sort_keys=True, ensure_ascii=False)
        assert _row_text(varied, shared) == expected


def _random_job(rng: random.Random) -> dict[str, object]:
    image = ImageSource(f"i{rng.randrange(9)}", "url", url="https://cdn.example.com/a.png")
    steps = tuple(
        Extension(k + 1, rng.choice([None, "on"]), "low", 0, f"{k:064x}")
        for k in range(rng.randrange(3))
    )
    fields: dict[str, object] = {
        "name": f"job-{rng.randrange(10**6)}",
        "fingerprint": f"{rng.getrandbits(256):064x}",
        "image": image,
        "prompt_name": rng.choice([None, "p"]),
        "prompt": rng.choice([None, "a prompt", "é"]),
        "settings": Settings(batch_size=rng.choice([1, 2, 4])),
        "take": rng.randrange(1, 4),
        "output_name": "out",
        "extensions": steps,
    }
    optional = {
        "matrix": (("mood", "warm"),),
        "variables": {"a": 1},
        "retake": 2,
        "provider": "kie",
    }
    fields |= {key: value for key, value in optional.items() if rng.random() < 0.5}
    return fields


def test_the_fast_constructor_makes_what_the_class_makes() -> None:
    rng = random.Random(18)
    make_job, make_row = fast_constructor(Job), fast_constructor(PlanRow)
    for _ in range(300):
        fields = _random_job(rng)
        job, fast = Job(**fields), make_job(**fields)  # type: ignore[arg-type]
        assert type(fast) is Job
        assert fast == job and hash(fast) == hash(job) and repr(fast) == repr(job)
        assert asdict(fast) == asdict(job)
        assert fast.qc == job.qc and fast.awaiting == job.awaiting == ()  # the defaults
        assert replace(fast, take=9) == replace(job, take=9)
        with pytest.raises(FrozenInstanceError):
            fast.name = "other"  # type: ignore[misc]
        positional = [getattr(job, f.name) for f in fields_of(Job)]
        assert make_job(*positional) == job
        row = (job.name, job.fingerprint, JobStatus.NEW, job, 1, 5.0, (), (), 0.6, 0)
        assert make_row(*row) == PlanRow(*row)


def test_the_fast_constructor_refuses_what_it_cannot_copy() -> None:
    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    for cls in (Mutable, NoSlots, int):
        with pytest.raises(TypeError, match="frozen dataclass with slots"):
            fast_constructor(cls)


def test_the_step_hasher_gives_the_extension_fingerprint() -> None:
    rng = random.Random(4)
    for _ in range(2000):
        prompt = rng.choice([None, "", "on", 'a "quoted" é\n', "日本"])
        motion, index = rng.choice(["low", "high", "ü"]), rng.randrange(4)
        parent = f"{rng.getrandbits(256):064x}"
        expected = extension_fingerprint(parent, prompt, motion, index)
        assert extension_hasher(prompt, motion, index)(parent) == expected


STEPS = """\
version: 1
campaign: steps
images:
  a: {url: "https://cdn.example.com/a.png"}
  b: {url: "https://cdn.example.com/b.png"}
prompts:
  p: "a {{ mood }} shot"
jobs:
  - images: [a, b]
    prompts: [p]
    takes: 2
    matrix: {mood: [warm, cold], motion: [low, high], batch_size: [2, 4]}
    extend: [{}, {motion: high, index: 1}, {index: approved}, {}]
  - images: [a]
    prompts: [p]
    vars: {mood: x}
    extend: [{prompt: "on {{ image }}"}, {}]
"""


def test_steps_made_once_per_matrix_row_chain_like_each_jobs_own(tmp_path: Path) -> None:
    spec = tmp_path / "steps.yaml"
    spec.write_text(STEPS, encoding="utf-8")
    jobs = load_campaign(spec).jobs
    assert len(jobs) == 2 * 2 * 2 * 2 * 2 + 1
    for job in jobs:
        parent = job.fingerprint
        for step in job.extensions:
            assert step.fingerprint == extension_fingerprint(
                parent, step.prompt, step.motion, step.index
            )
            parent = step.fingerprint
        if job.name == "a-p":  # the second entry: a prompt rendered per job
            assert [s.prompt for s in job.extensions] == ["on a", None]
            continue
        motion = job.settings.motion
        assert [(s.step, s.motion, s.index) for s in job.extensions] == [
            (1, motion, 0),
            (2, "high", 1),
        ]
        assert [(s.step, s.motion, s.index) for s in job.awaiting] == [
            (3, motion, None),
            (4, motion, 0),
        ]
    assert len({job.extensions[1].fingerprint for job in jobs}) == len(jobs)


def _reserved_slow(folder: str, stem: str) -> str | None:
    """``reserved_problem`` with the regex run on every part."""
    parts = folder.split("/")
    if parts[0].lower() in reserved._top_names(stem):
        return f"{parts[0]!r} is a name mjv writes in the output folder"
    for part in parts:
        found = reserved._REFUSED.fullmatch(part)
        if found and found.group(1) is not None:
            return f"{part!r} is a name mjv writes in a job folder"
        if found:
            return f"{part!r} is hidden or a temporary file's name"
    return None


def test_reserved_names_with_the_shortcut_equal_the_regex_on_every_part() -> None:
    pieces = ["a", "clip-", "1", ".mp4", "versions", ".", "part", ".tmp", "/", "CLIP-", "ext2-"]
    pieces += ["manifest.json", "Report.HTML", "spec.yaml", "é", "VERSIONS", "x.PART"]
    rng = random.Random(12)
    for _ in range(5000):
        folder = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 5)))
        assert reserved.reserved_problem(folder, "spec") == _reserved_slow(folder, "spec"), folder


def test_the_job_hasher_gives_the_job_fingerprint() -> None:
    rng = random.Random(5)
    images = [encode_image(ImageSource("a", "url", url="https://cdn.example.com/é.png"))]
    images.append(encode_image(ImageSource("s", "imagine", imagine='a "still"', pick=2)))
    for _ in range(2000):
        end = rng.choice([None, ImageSource("e", "file", sha256="0" * 64)])
        settings = encode_settings(Settings(batch_size=rng.choice([1, 2]), loop=rng.random() < 0.5))
        provider = rng.choice(["cometapi", "kie", "apimart"])
        image, take = rng.choice(images), rng.randrange(1, 5)
        prompt = rng.choice([None, "", "on", 'a "quoted" é\n'])
        expected = hash_job(image, encode_image(end), prompt, settings, take, provider)
        assert job_hasher(encode_image(end), settings, provider)(image, prompt, take) == expected
