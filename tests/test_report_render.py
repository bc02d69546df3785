"""The report renderer, pure: campaign + manifest in, HTML out (escaping, links, marks)."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from orchestrator.model import Campaign, Extension, ImageSource, Job, Settings
from orchestrator.report import build_page, render_report

EVIL = '<script>alert("x")</script>" onerror="alert(1)'


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, **having: str) -> list[dict[str, str | None]]:
        """Attributes of each ``tag`` whose attributes include ``having``."""
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in having.items())
        ]


def _job(tmp_path: Path, name: str = "j1", *, take: int = 1, steps: int = 1) -> Job:
    image = ImageSource("bottle", "file", path=tmp_path / "assets" / "bottle.png", sha256="ab" * 32)
    extensions = tuple(
        Extension(step, f"ext prompt {step}", "high", 1, f"fp-{name}-{step}")
        for step in range(1, steps)
    )
    return Job(
        name,
        f"fp-{name}",
        image,
        "orbit",
        "slow orbit",
        Settings(batch_size=2),
        take,
        name,
        extensions=extensions,
        matrix=(("mood", "warm"),),
    )


def _campaign(tmp_path: Path, *jobs: Job) -> Campaign:
    out = tmp_path / "out" / "camp"
    return Campaign("camp", tmp_path / "spec.yaml", "", out, jobs, {"fast": 0.5})


def _files(step: int, count: int) -> list[dict[str, Any]]:
    prefix = "" if step == 0 else f"ext{step}-"
    return [
        {"index": i, "name": f"{prefix}clip-{i}.mp4", "url": "u", "sha256": "s", "bytes": 2000}
        for i in range(count)
    ]


def _entry(name: str, steps: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "output": name,
        "image": {"name": "bottle", "kind": "file", "sha256": "ab" * 32},
        "end_image": None,
        "prompt_name": "orbit",
        "prompt": "slow orbit",
        "settings": {"mode": "fast", "batch_size": 2},
        "take": 1,
        "status": "done",
        "steps": [
            {"step": s, "prompt": f"p{s}", "motion": "low", "index": 1 if s else 0,
             "status": "downloaded", "files": _files(s, 2)}
            for s in range(steps)
        ],
        "cost": 1.0,
        **extra,
    }  # fmt: skip


def _manifest(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"manifest_version": 1, "campaign": "camp", "jobs": list(entries)}


def _render(campaign: Campaign, manifest: dict[str, Any] | None) -> Tags:
    return Tags(render_report(build_page(campaign, manifest)))


def test_spec_text_is_escaped_everywhere(tmp_path: Path) -> None:
    entry = _entry(
        EVIL,
        output="o",
        prompt_name=EVIL,
        image={"name": EVIL, "kind": "url", "url": EVIL},
        settings={"mode": EVIL},
        matrix={EVIL: EVIL},
        versions=[{"fingerprint": EVIL, "files": [{"name": EVIL, "sha256": "s", "bytes": 1}]}],
    )
    entry["steps"][1]["prompt"] = EVIL
    text = render_report(build_page(_campaign(tmp_path), _manifest(entry)))
    assert "<script>alert" not in text
    assert '" onerror=' not in text
    assert text.count("<script>") == 1  # only the page's own script
    tags = Tags(text)
    assert not any("onerror" in attrs for _, attrs in tags.tags)
    assert EVIL in "".join(tags.text)  # shown, as text
    assert tags.all("article")[0]["data-name"] == EVIL


def test_clips_and_images_are_linked_by_relative_path(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path, _job(tmp_path, "j 1#", steps=2))
    tags = _render(campaign, _manifest(_entry("j 1#", output="j 1#")))
    sources = [attrs["src"] for attrs in tags.all("video")]
    names = ["clip-0", "clip-1", "ext1-clip-0", "ext1-clip-1"]
    assert sources == [f"j%201%23/{name}.mp4" for name in names]
    assert {attrs["src"] for attrs in tags.all("img")} == {"../../assets/bottle.png"}
    assert {attrs["poster"] for attrs in tags.all("video")} == {"../../assets/bottle.png"}
    assert all(attrs["preload"] == "none" for attrs in tags.all("video"))


def test_remote_images_are_text_only(tmp_path: Path) -> None:
    entry = _entry("j1", image={"name": "sky", "kind": "url", "url": "https://cdn.example/s.png"})
    text = render_report(build_page(_campaign(tmp_path), _manifest(entry)))
    tags = Tags(text)
    assert tags.all("img") == []
    assert all("poster" not in attrs for attrs in tags.all("video"))
    assert "https://cdn.example/s.png" in "".join(tags.text)
    assert 'src="http' not in text and 'href="http' not in text


def test_final_clip_is_the_last_step(tmp_path: Path) -> None:
    tags = _render(_campaign(tmp_path), _manifest(_entry("j1", steps=3)))
    finals = [attrs["src"] for name, attrs in _clip_videos(tags) if "final" in name]
    assert finals == ["j1/ext2-clip-0.mp4", "j1/ext2-clip-1.mp4"]
    assert "extension 2 · extends clip 1" in "".join(tags.text)


def _clip_videos(tags: Tags) -> list[tuple[str, dict[str, str | None]]]:
    """(class of the enclosing figure, video attributes) of each clip."""
    pairs, figure = [], ""
    for name, attrs in tags.tags:
        if name == "figure":
            figure = attrs.get("class") or ""
        if name == "video":
            pairs.append((figure, attrs))
    return pairs


def test_earlier_versions_are_listed(tmp_path: Path) -> None:
    old = "versions/ab12cd34ef56/clip-0.mp4"
    version = {"fingerprint": "ab12cd34ef56" * 4, "files": [{"name": old, "sha256": "s"}]}
    tags = _render(_campaign(tmp_path), _manifest(_entry("j1", versions=[version])))
    assert tags.all("details", **{"class": "versions"})
    assert tags.all("a", href=f"j1/{old}")
    assert "1 earlier version" in "".join(tags.text)
    again = {**version, "attempt": 2}
    text = "".join(_render(_campaign(tmp_path), _manifest(_entry("j1", versions=[again]))).text)
    assert "ab12cd34ef56 attempt 2: " in text


def test_description_from_the_manifest_else_the_spec(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path)
    about = {"name": "camp", "description": "from the <manifest>"}
    text = render_report(build_page(campaign, {**_manifest(), "campaign": about}))
    assert '<p class="description">from the &lt;manifest&gt;</p>' in text
    spec_only = replace(campaign, description="spring & summer")
    assert "spring &amp; summer" in render_report(build_page(spec_only, _manifest()))
    assert 'class="description"' not in render_report(build_page(campaign, _manifest()))


def test_empty_campaign(tmp_path: Path) -> None:
    tags = _render(_campaign(tmp_path), None)
    assert tags.all("article") == []
    assert "This campaign has no jobs." in "".join(tags.text)


def test_unrun_jobs_come_from_the_spec(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path, _job(tmp_path, "a", steps=2), _job(tmp_path, "b"))
    page = build_page(campaign, _manifest(_entry("a")))
    assert [card.name for card in page.cards] == ["a", "b"]
    pending = page.cards[1]
    # The job vocabulary (JobStatus) for the job, the submission's for its steps.
    assert pending.status == "new" and [s.status for s in pending.steps] == ["pending"]
    assert pending.cost == 0.5 and pending.steps[0].clips == ()


def test_matrix_from_the_manifest_else_the_spec(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path, _job(tmp_path, "a"), _job(tmp_path, "b"))
    page = build_page(campaign, _manifest(_entry("a", matrix={"mood": "cold", "n": 3})))
    assert [card.matrix for card in page.cards] == [
        (("mood", "cold"), ("n", "3")),
        (("mood", "warm"),),
    ]
    assert page.axes == ("mood", "n")
    tags = Tags(render_report(page))
    assert [a["data-filter"] for a in tags.all("select") if "data-filter" in a][3:] == ["m0", "m1"]
    assert [a["data-m1"] for a in tags.all("article")] == ["3", ""]


def test_takes_share_a_group(tmp_path: Path) -> None:
    entries = [_entry("t1", take=1), _entry("t2", take=2), _entry("other", prompt_name="zoom")]
    page = build_page(_campaign(tmp_path), _manifest(*entries))
    groups = {card.name: card.group for card in page.cards}
    assert groups["t1"] == groups["t2"] != groups["other"]


def test_nothing_is_fetched_from_the_network(tmp_path: Path) -> None:
    text = render_report(build_page(_campaign(tmp_path, _job(tmp_path)), None))
    assert "http:" not in text and "https:" not in text and "url(" not in text
    assert "Content-Security-Policy" in text
