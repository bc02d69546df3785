"""`mjv export`'s choice and names, on a written manifest (no run needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from runsupport import write

from orchestrator.export import ExportError, choose, export
from orchestrator.results import Manifest
from orchestrator.review.reviewfile import Review, Verdict
from orchestrator.spec import load_campaign

SPEC = """\
version: 1
campaign: pick
defaults: {batch_size: 2}
vars: {client: acme}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
{export}
jobs:
  - name: "hero-{{ take }}"
    images: [a]
    prompts: [orbit]
    takes: 2
"""


def _setup(tmp_path: Path, export_section: str = "") -> tuple[Any, Manifest]:
    campaign = load_campaign(
        write(tmp_path / "pick.yaml", SPEC.replace("{export}", export_section))
    )
    jobs = []
    for take in (1, 2):
        files = []
        for i in range(2):
            data = f"clip {take} {i}".encode()
            path = campaign.output_dir / f"hero-{take}" / f"clip-{i}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            sha = hashlib.sha256(data).hexdigest()
            files.append({"index": i, "name": f"clip-{i}.mp4", "sha256": sha, "bytes": 6})
        step = {"step": 0, "prompt": "slow orbit", "status": "downloaded", "files": files}
        jobs.append(
            {"name": f"hero-{take}", "output": f"hero-{take}", "status": "done", "steps": [step]}
        )
    manifest = Manifest.from_json({"manifest_version": 1, "campaign": "pick", "jobs": jobs})
    return campaign, manifest


def _approve(manifest: Manifest, job: int, index: int, stars: int | None = None) -> Review:
    f = manifest.jobs[job].steps[0].files[index]
    clip = f"hero-{job + 1}/{f.name}"
    return Review({clip: Verdict(clip, f.sha256, "approved", stars)})


def test_the_approved_final_clip_named_by_the_template(tmp_path: Path) -> None:
    campaign, manifest = _setup(
        tmp_path, 'export: {name: "{{ client }}-{{ job }}-{{ stars }}.mp4"}'
    )
    chosen, left_out = choose(campaign, manifest, _approve(manifest, 1, 1, 4), everything=False)
    assert [(d.file, d.clip, d.stars) for d in chosen] == [
        ("acme-hero-2-4.mp4", "hero-2/clip-1.mp4", 4)
    ]
    assert left_out == [("hero-1", "no approved clip of its last step (base)")]
    done = export(chosen, tmp_path / "deliver")
    assert done.copied == ("acme-hero-2-4.mp4",) and done.listing_written
    again = export(chosen, tmp_path / "deliver")
    assert (again.copied, again.unchanged, again.listing_written) == (
        (),
        ("acme-hero-2-4.mp4",),
        False,
    )


def test_all_takes_every_final_clip_with_distinct_default_names(tmp_path: Path) -> None:
    campaign, manifest = _setup(tmp_path)
    chosen, _ = choose(campaign, manifest, Review(), everything=True)
    assert sorted(d.file for d in chosen) == [
        "hero-1-clip-0.mp4",
        "hero-1-clip-1.mp4",
        "hero-2-clip-0.mp4",
        "hero-2-clip-1.mp4",
    ]
    assert {d.verdict for d in chosen} == {"unreviewed"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("clip.mp4", "gives 'clip.mp4' to both"),
        ("{{ job }}/x.mp4", "not a plain file name"),
        ("{{ nothing }}.mp4", "export.name: "),
        ("export.json", "that name is taken"),
    ],
)
def test_bad_names_stop_before_anything_is_copied(tmp_path: Path, name: str, message: str) -> None:
    campaign, manifest = _setup(tmp_path, f'export: {{name: "{name}"}}')
    review = Review({**_approve(manifest, 0, 0).verdicts, **_approve(manifest, 1, 0).verdicts})
    with pytest.raises(ExportError, match=message.replace("(", r"\(")):
        choose(campaign, manifest, review, everything=False)
