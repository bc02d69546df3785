"""Shared helpers of the state store tests: a settable clock and small spec builders."""

from __future__ import annotations

from pathlib import Path

from orchestrator.state import FileRecord, SqliteStore, SubmissionSpec, open_store


class Clock:
    """A clock the test moves by hand, so lease expiry never depends on timing luck."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def spec(key: str, job: str = "", kind: str = "video", step: int = 0) -> SubmissionSpec:
    """A submission spec with defaults that keep tests short."""
    return SubmissionSpec(key=key, job=job or f"job-{key}", kind=kind, step=step, parent=None)


def clip(key: str, index: int = 0) -> FileRecord:
    """A file record of one downloaded clip."""
    return FileRecord(key, index, f"clip-{index}.mp4", f"https://cdn/{key}/{index}", "ab" * 32, 10)


def store_at(path: Path, campaign: str = "demo", clock: Clock | None = None) -> SqliteStore:
    """Open a store on ``path`` with a hand-moved clock."""
    return open_store(path, campaign, clock=clock or Clock())
