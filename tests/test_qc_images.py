"""Start images sent by URL (and imagine stills) are fetched once per campaign, kept under the
output folder, and compared with each base clip's first frame; one that cannot be had leaves
the similarity out and fails nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_server import Hostile, hostile
from runsupport import KEY, charged, manifest, mjv, run_spec, write

from orchestrator.client import Client
from orchestrator.errors import DownloadError, ServerError
from orchestrator.qc.images import CACHE_DIR, Fetched, ImageCache, Sink
from orchestrator.simulator import Simulator, SimulatorConfig
from orchestrator.simulator.stills import still_png

SPEC = """\
version: 1
campaign: img
images:
  a: {{url: "{url}"}}
prompts:
{prompts}
jobs:
  - images: [a]
    prompts: [{names}]
"""


def _spec(tmp_path: Path, url: str, *prompts: str) -> Path:
    lines = "\n".join(f'  p{n}: "a slow pan {text}"' for n, text in enumerate(prompts))
    names = ", ".join(f"p{n}" for n in range(len(prompts)))
    return write(tmp_path / "s.yaml", SPEC.format(url=url, prompts=lines, names=names))


def _files(spec: Path) -> list[dict[str, object]]:
    jobs = manifest(spec, "img")["jobs"]
    return [file for job in jobs for file in job["steps"][0]["files"]]


def _scores(file: dict[str, object]) -> dict[str, object]:
    qc = file["qc"]
    assert isinstance(qc, dict)
    scores = qc["scores"]
    assert isinstance(scores, dict)
    return scores


def _cached(spec: Path, suffix: str) -> list[Path]:
    return sorted((spec.parent / "out" / "img" / CACHE_DIR).glob(f"*{suffix}"))


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("MJV_API_KEY", KEY)
    config = SimulatorConfig(
        job_seconds=0.05, slots=4, clip_fault="unrelated", clip_fault_word="odd"
    )
    with Simulator(config) as running:
        yield running


def test_a_clip_started_by_url_is_compared_with_the_image_fetched_once(
    sim: Simulator, tmp_path: Path
) -> None:
    url = f"{sim.base_url}/images/hero.png"
    spec = _spec(tmp_path, url, "one", "two")
    first = run_spec(sim, spec)
    assert first.code == 0, first.out
    files = _files(spec)
    assert len(files) == 2 and all(float(_scores(f)["start_similarity"]) > 0.8 for f in files)
    assert [p.read_bytes() for p in _cached(spec, ".img")] == [still_png("/images/hero.png")]
    # A rerun with a new job checks its clip against the kept picture: not fetched again.
    spec = _spec(tmp_path, url, "one", "two", "three")
    again = run_spec(sim, spec)
    assert again.code == 0, again.out
    assert sum(charged(sim).values()) == 3
    assert all(float(_scores(f)["start_similarity"]) > 0.8 for f in _files(spec))
    assert sim.requests_by_route()["GET /images"] == 1


def test_mjv_qc_compares_with_the_kept_image_and_fetches_nothing(
    sim: Simulator, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, f"{sim.base_url}/images/hero.png", "one")
    run_spec(sim, spec)
    state = tmp_path / ".mjv" / "state.db"
    with sqlite3.connect(state) as db:  # checks lost: mjv qc checks the clip again
        db.execute("DELETE FROM qc")
    db.close()
    checked = mjv("qc", str(spec), "--state", str(state))
    assert checked.code == 0 and "start_similarity=0.9" in checked.out, checked.out
    for kept in _cached(spec, ".img"):
        kept.unlink()  # and without the kept picture: said, and left out
    with sqlite3.connect(state) as db:
        db.execute("DELETE FROM qc")
    db.close()
    unchecked = mjv("qc", str(spec), "--state", str(state))
    assert unchecked.code == 0 and "start_similarity" not in unchecked.out
    assert "warning: start image a" in unchecked.err and "not fetched by a run" in unchecked.err
    assert sim.requests_by_route()["GET /images"] == 1


def test_a_clip_that_does_not_start_from_its_url_image_fails(
    sim: Simulator, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, f"{sim.base_url}/images/hero.png", "clean", "odd")
    run_spec(sim, spec)
    clean, odd = _files(spec)
    assert float(_scores(clean)["start_similarity"]) > 0.8
    assert float(_scores(odd)["start_similarity"]) < 0.4
    qc = odd["qc"]
    assert isinstance(qc, dict) and qc["passed"] is False
    assert any(r.startswith("start_similarity") for r in qc["reasons"]), qc


def test_a_clip_with_an_end_image_by_url_is_compared_at_its_end(
    sim: Simulator, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, f"{sim.base_url}/images/hero.png", "one")
    text = spec.read_text().replace(
        "images:\n", f'images:\n  b: {{url: "{sim.base_url}/images/end.png"}}\n', 1
    )
    spec.write_text(text.replace("  - images: [a]", "  - images: [a]\n    end_image: b"))
    result = run_spec(sim, spec)
    assert result.code == 0, result.err
    (file,) = _files(spec)
    assert float(_scores(file)["start_similarity"]) > 0.8
    assert float(_scores(file)["end_similarity"]) > 0.8
    assert sim.requests_by_route()["GET /images"] == 2


def test_an_imagine_still_is_compared_with_its_clip(sim: Simulator, tmp_path: Path) -> None:
    spec = write(
        tmp_path / "s.yaml",
        SPEC.replace('{{url: "{url}"}}', '{{imagine: "a castle", pick: 2}}').format(
            prompts='  p0: "a slow pan"', names="p0"
        ),
    )
    result = run_spec(sim, spec)
    assert result.code == 0, result.out
    (file,) = _files(spec)
    assert float(_scores(file)["start_similarity"]) > 0.8
    assert sim.requests_by_route()["GET /mj/image"] == 1


def test_an_image_that_cannot_be_fetched_leaves_the_score_out_once(
    sim: Simulator, tmp_path: Path
) -> None:
    url = f"{sim.base_url}/mj/image/999"  # no such task: 404
    spec = _spec(tmp_path, url, "one", "two")
    first = run_spec(sim, spec)
    assert first.code == 0, first.out  # nothing failed: the score is not there to judge
    assert all("start_similarity" not in _scores(f) for f in _files(spec))
    assert all(f["qc"]["passed"] for f in _files(spec))  # type: ignore[index]
    assert first.err.count("start image a") == 1 and "HTTP 404" in first.err, first.err
    assert len(_cached(spec, ".refused")) == 1 and not _cached(spec, ".img")
    run_spec(sim, _spec(tmp_path, url, "one", "two", "three"))  # a refusal is kept too
    assert sim.requests_by_route()["GET /mj/image"] == 1


def _fetch(cache: ImageCache, *urls: str) -> list[Fetched]:
    async def go() -> list[Fetched]:
        return list(await asyncio.gather(*(cache.fetch(url) for url in urls)))

    return asyncio.run(go())


class _Host:
    """A download that answers ``body`` (or raises ``error``) and counts what it was asked."""

    def __init__(self, body: bytes = b"", error: Exception | None = None) -> None:
        self.body, self.error = body, error
        self.asked: list[str] = []

    async def __call__(self, url: str, sink: Sink) -> int:
        self.asked.append(url)
        if self.error is not None:
            raise self.error
        for start in range(0, len(self.body), 1000):
            sink(self.body[start : start + 1000])
        return len(self.body)


def test_concurrent_checks_share_one_fetch_and_later_caches_read_the_file(tmp_path: Path) -> None:
    png = still_png("/images/x.png")
    host = _Host(png)
    first = _fetch(ImageCache(tmp_path, host), "https://h.example/x.png", "https://h.example/x.png")
    assert first[0] == first[1] and first[0].path is not None
    assert first[0].path.read_bytes() == png
    again = _fetch(
        ImageCache(tmp_path, _Host(error=AssertionError("asked"))), "https://h.example/x.png"
    )
    assert again == first[:1] and host.asked == ["https://h.example/x.png"]
    assert _fetch(ImageCache(tmp_path, None), "https://h.example/x.png") == first[:1]  # mjv qc


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        (_Host(b"<html>not found</html>"), "not a PNG, JPEG, WebP or GIF"),
        (_Host(b"\x89PNG" + b"\0" * 5000), "larger than"),
        (_Host(error=DownloadError("download of x failed: HTTP 403")), "HTTP 403"),
    ],
)
def test_a_refused_image_is_remembered(tmp_path: Path, host: _Host, problem: str) -> None:
    (found,) = _fetch(ImageCache(tmp_path, host, max_bytes=4096), "https://h.example/x.png")
    assert found.path is None and found.problem is not None and problem in found.problem
    (again,) = _fetch(ImageCache(tmp_path, host, max_bytes=4096), "https://h.example/x.png")
    assert again.problem == found.problem and len(host.asked) == 1
    assert not list((tmp_path / CACHE_DIR).glob("*.img"))


def test_an_unexpected_failure_leaves_the_picture_out_and_raises_nothing(tmp_path: Path) -> None:
    (found,) = _fetch(ImageCache(tmp_path, _Host(error=OSError("boom"))), "https://h.example/x")
    assert found == Fetched(None, "OSError while fetching")


def test_a_timeout_is_not_remembered_past_the_run(tmp_path: Path) -> None:
    host = _Host(error=ServerError("download of x did not finish within 60 s"))
    (found,) = _fetch(ImageCache(tmp_path, host), "https://h.example/x.png")
    assert found.path is None and "did not finish" in (found.problem or "")
    _fetch(ImageCache(tmp_path, host), "https://h.example/x.png")
    assert len(host.asked) == 2 and not (tmp_path / CACHE_DIR).exists()


def test_a_malformed_url_is_refused_without_asking(tmp_path: Path) -> None:
    host = _Host(still_png("/images/x.png"))
    (found,) = _fetch(ImageCache(tmp_path, host), "file:///etc/passwd")
    assert found.path is None and "refused URL" in (found.problem or "") and host.asked == []


@pytest.mark.parametrize(
    "mode",
    [
        Hostile(clip_redirect="file:///etc/passwd"),
        Hostile(clip_redirect="http://127.0.0.1:99999/x.png"),
        Hostile(clip_bytes=1 << 40, announce_clip=False),  # endless
        Hostile(clip_bytes=1 << 40),  # announced far over any cap
    ],
)
def test_a_hostile_image_host_is_refused_and_nothing_is_kept(tmp_path: Path, mode: Hostile) -> None:
    with hostile(mode) as server:

        async def go() -> Fetched:
            async with Client(KEY, server.base_url) as client:
                cache = ImageCache(tmp_path, client.download, max_bytes=1 << 20)
                return await cache.fetch(f"{server.base_url}/cdn/images/x.png")

        found = asyncio.run(go())
    assert found.path is None and found.problem, found
    assert server.mode.requests == ["/cdn/images/x.png"]  # the bad hop itself is never sent
    assert not list((tmp_path / CACHE_DIR).glob("*.img"))
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
