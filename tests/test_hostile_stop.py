"""SIGTERM stops a run as Ctrl-C does; a clip already in place is never copied into versions/."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile_server import KEY, MP4_HEAD, Hostile, hostile
from runsupport import FAST, mjv, write

from orchestrator.engine.downloads import download_clip

SPEC = """\
version: 1
campaign: stop
defaults: {mode: fast, motion: low, batch_size: 1}
images:
  a: {url: "https://cdn.example.com/a.png"}
prompts:
  orbit: "slow orbit"
jobs:
  - name: j
    images: [a]
    prompts: [orbit]
"""


def _env(base_url: str) -> dict[str, str]:
    env = dict(os.environ, MJV_API_KEY=KEY, MJV_BASE_URL=base_url, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def _parts(folder: Path) -> list[Path]:
    return list(folder.rglob(".*.part")) if folder.exists() else []


def test_sigterm_cleans_up_summarises_and_exits_143_then_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJV_API_KEY", KEY)
    spec = write(tmp_path / "c.yaml", SPEC)
    out = spec.parent / "out" / "stop"
    with hostile(Hostile(clip_trickle=0.05)) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "run", str(spec), *FAST],
            env=_env(server.base_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        for line in proc.stderr:  # the clip is being written when the signal comes
            if "submitted" in line:
                break
        while not _parts(out) and proc.poll() is None:
            time.sleep(0.01)  # waiting for the temp file to appear, not timing anything
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=60)
        assert proc.returncode == 143, stdout
        assert "stop: 0/1 jobs done, 1 submitted" in stdout
        assert "interrupted: run `mjv run` again" in stdout
        assert _parts(out) == []
        server.mode.clip_trickle = 0.0  # the CDN behaves again: the next run only downloads
        again = mjv("run", str(spec), "--base-url", server.base_url, *FAST)
    assert again.code == 0, again.out + again.err
    assert "1/1 jobs done, 0 submitted, 1 clips downloaded" in again.out


def test_a_clip_already_in_place_with_the_same_bytes_is_not_set_aside(tmp_path: Path) -> None:
    dest = tmp_path / "clip-0.mp4"
    same, other = MP4_HEAD + b"x" * 64, MP4_HEAD + b"y" * 64
    dest.write_bytes(same)
    aside: list[Path] = []

    def serving(body: bytes):  # type: ignore[no-untyped-def]
        async def fetch(url: str, sink) -> int:  # type: ignore[no-untyped-def]
            sink(body)
            return len(body)

        return fetch

    # Another runner of the same state saved this very clip first: nothing to keep aside.
    asyncio.run(download_clip(serving(same), "http://cdn/c.mp4", dest, set_aside=aside.append))
    assert aside == [] and dest.read_bytes() == same
    asyncio.run(download_clip(serving(other), "http://cdn/c.mp4", dest, set_aside=aside.append))
    assert aside == [dest]
