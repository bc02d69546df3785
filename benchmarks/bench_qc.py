"""Clip check time against pure decode time of the same clips (target: at most 1.5 x).

    .venv/bin/python benchmarks/bench_qc.py [--clips N] [--rounds R]

Clips are 5 s 854x480 H.264 at 24 fps made by the simulator's footage generator. Pure decode:
every frame decoded by PyAV (threads as the check uses them), nothing else. Check: the full
check (scores, SSIM to a start image, poster and strip written); every clip has a start image
of its own, decoded again in every round (in a campaign, clips sharing an image decode it
once). Wall and CPU time (of every thread) are shown, the fastest of ``--rounds`` rounds each:
on a busy machine the CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

from orchestrator.qc.check import ClipCheck, check_clip
from orchestrator.qc.decode import _image_grey
from orchestrator.qc.rules import Expected, QcRules
from orchestrator.qc.thumbs import _write_jpeg
from orchestrator.simulator.footage import SD_SIZE, footage, picture_of


def _decode(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def _fastest(best: list[float], work: Callable[[], object]) -> list[float]:
    """``best`` (wall, CPU) seconds, improved by one timed run of ``work``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return [min(best[0], time.perf_counter() - wall), min(best[1], time.process_time() - cpu)]


def _clips(root: Path, count: int) -> list[ClipCheck]:
    expected, found = Expected.of(0, "vid_1.1_i2v_480"), []
    for n in range(count):
        picture = picture_of(None, f"https://example.com/{n}.png", SD_SIZE)
        clip, start = root / f"clip-{n}.mp4", root / f"start-{n}.jpg"
        clip.write_bytes(footage(picture, 5.0))
        _write_jpeg(start, picture)
        found.append(ClipCheck(clip, QcRules(), expected, start_image=start))
    return found


def _check_all(checks: list[ClipCheck]) -> None:
    _image_grey.cache_clear()  # each start image decoded once per round, as in a first check
    for one in checks:
        check_clip(one)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the fastest is shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        checks = _clips(Path(folder), args.clips)
        decode, check = [float("inf")] * 2, [float("inf")] * 2
        for _ in range(args.rounds):  # the fastest round of each: least disturbed by other work
            decode = _fastest(decode, lambda: [_decode(one.path) for one in checks])
            check = _fastest(check, lambda: _check_all(checks))
    per = 1000 / args.clips
    for label, i in (("wall", 0), ("CPU", 1)):
        print(
            f"{args.clips} clips of 5 s 480p, {label}: decode {decode[i] * per:.0f} ms/clip, "
            f"check {check[i] * per:.0f} ms/clip, ratio {check[i] / decode[i]:.2f} x"
        )


if __name__ == "__main__":
    main()
