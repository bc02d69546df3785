"""Checks before the first submission: never pay for a clip the run cannot save.

The output folder must be creatable and writable, its disk must have room for the clips the
run still expects, and the state file must be writable. Any failure is a PreflightError, raised
before anything is declared or submitted.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from orchestrator.engine.clips import VERSIONS_DIR
from orchestrator.errors import PreflightError
from orchestrator.model import BASE_SECONDS, EXTENSION_SECONDS, Job, Settings, chain
from orchestrator.state import Status, Store, Submission

MB = 1 << 20
# Deliberately generous estimates of a clip's size per second of video (Midjourney's 480p clips
# run about 0.3-0.5 MB a second); MJV_CLIP_MB_PER_SECOND sets the 480p figure (720p: x2.5).
BYTES_PER_SECOND_480 = 1 * MB
BYTES_PER_SECOND_720 = 5 * MB // 2
RATE_ENV = "MJV_CLIP_MB_PER_SECOND"
SPARE_BYTES = 64 * MB  # room for the manifest, the state file's growth and temp files

FreeSpace = Callable[[Path], int]
"""Free bytes on the disk holding a folder (``shutil.disk_usage(folder).free``)."""


def free_bytes(folder: Path) -> int:
    """Free bytes on the disk holding ``folder``."""
    return shutil.disk_usage(folder).free


def writable(path: Path) -> bool:
    """True when this process may write ``path``."""
    return os.access(path, os.W_OK)


def clip_bytes(settings: Settings, step: int) -> int:
    """Estimated size of one clip of extension ``step`` (0 = base clip) made with ``settings``."""
    rate = _rate_480()
    if "720" in settings.video_type:
        rate = rate * BYTES_PER_SECOND_720 / BYTES_PER_SECOND_480
    return int((BASE_SECONDS + EXTENSION_SECONDS * step) * rate)


def _rate_480() -> float:
    try:
        chosen = float(os.environ.get(RATE_ENV, "") or "nan")
    except ValueError:
        chosen = float("nan")
    return chosen * MB if 0 <= chosen < 1000 else float(BYTES_PER_SECOND_480)


def expected_bytes(jobs: Iterable[Job], subs: Mapping[str, Submission]) -> tuple[int, int]:
    """(clips, bytes) the jobs still have to download: batch_size per step not downloaded."""
    clips = size = 0
    for job in jobs:
        for step in chain(job):
            sub = subs.get(step.fingerprint)
            if sub is None or sub.status != Status.DOWNLOADED:
                clips += job.settings.batch_size
                size += job.settings.batch_size * clip_bytes(job.settings, step.step)
    return clips, size


def preflight(
    output_dir: Path, jobs: Iterable[Job], store: Store, *, free_space: FreeSpace | None = None
) -> None:
    """Raise PreflightError unless the run can save every clip it may pay for.

    ``free_space`` replaces the disk probe (tests); the state file is checked when the store
    has one (``store.path``).
    """
    check_output(output_dir)
    jobs = tuple(jobs)
    check_job_folders(output_dir, jobs)
    subs = {sub.key: sub for sub in store.submissions()}
    clips, need = expected_bytes(jobs, subs)
    if clips:
        check_space(output_dir, clips, need, free_space or free_bytes)
    state_path = getattr(store, "path", None)
    if isinstance(state_path, Path):
        check_state(state_path)


def check_output(output_dir: Path) -> None:
    """The output folder exists (or is created) and a file can be created and removed in it."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "a file is in its place" if isinstance(exc, FileExistsError) else exc.strerror
        raise PreflightError(
            f"output folder {output_dir} cannot be created ({why or exc}); "
            "nothing was submitted. Fix output.dir in the spec or the folder's permissions."
        ) from exc
    probe = output_dir / f".mjv-probe-{secrets.token_hex(6)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise PreflightError(
            f"output folder {output_dir} is not writable ({exc.strerror or exc}); "
            "nothing was submitted. Fix its permissions or output.dir in the spec."
        ) from exc
    if not writable(output_dir):
        raise PreflightError(
            f"output folder {output_dir} is not writable; nothing was submitted. "
            "Fix its permissions or output.dir in the spec."
        )


def check_job_folders(output_dir: Path, jobs: Iterable[Job]) -> None:
    """Every folder a run could write (each job's, and its ``versions/``) is a writable folder,
    or can be made in one: a file in its place is found before anything is paid."""
    problems: list[str] = []
    for job in jobs:
        folder = output_dir / job.output_name
        for target in (folder, folder / VERSIONS_DIR):
            why = _unwritable(target, output_dir)
            if why:
                problems.append(f"job {job.name}: {target} {why}")
                break
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PreflightError(
            f"{problems[0]}{more}; nothing was submitted. Move what is in the way, or fix the "
            "permissions."
        )


def _unwritable(target: Path, top: Path) -> str | None:
    """Why clips cannot be written at ``target`` (a folder, or one to make), else None."""
    path = target
    while path != top and not os.path.lexists(path):
        path = path.parent  # the nearest part that exists: the folder would be made in it
    if not path.is_dir():
        return (
            f"cannot be made: {'a file is in its place' if path == target else f'{path} is a file'}"
        )
    if not writable(path):
        return "is not writable" if path == target else f"cannot be made: {path} is read-only"
    return None


def check_space(output_dir: Path, clips: int, need: int, free_space: FreeSpace) -> None:
    """The output folder's disk has room for ``need`` bytes of clips plus SPARE_BYTES."""
    try:
        free = free_space(output_dir)
    except OSError as exc:
        raise PreflightError(f"cannot tell the free space in {output_dir}: {exc}") from exc
    if free < need + SPARE_BYTES:
        raise PreflightError(
            f"not enough free space in {output_dir}: the run still expects {clips} clip(s), "
            f"about {_mb(need)} MB (estimated {_mb(BYTES_PER_SECOND_480)} MB per second of 480p "
            f"video, {_mb(BYTES_PER_SECOND_720)} MB at 720p) plus {_mb(SPARE_BYTES)} MB spare, "
            f"and only {_mb(free)} MB are free; nothing was submitted. Free some space, or run "
            "fewer jobs with --select."
        )


def check_state(state_path: Path) -> None:
    """The state file and its folder (SQLite writes -wal and -shm files there) can be written."""
    for target in (state_path, state_path.parent):
        if target.exists() and not writable(target):
            raise PreflightError(
                f"state file {state_path} is not writable ({target} is read-only); nothing was "
                "submitted. Fix the permissions or pass --state to use another file."
            )


def _mb(size: int) -> str:
    return f"{size / MB:,.0f}"
