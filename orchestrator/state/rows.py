"""Typed rows: what the SQL store's queries select, and how each row becomes a record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import StateError
from orchestrator.state.records import (
    MICROS,
    Attempt,
    FileRecord,
    FileVersion,
    Money,
    QcRecord,
    Submission,
    Totals,
    UploadRecord,
)

SUBMISSIONS = (
    "SELECT key, job, kind, step, parent, status, attempt, task_id, failure, reason, clip_urls,"
    " image_url, lease_owner, lease_until, updated_at, request FROM submissions"
    " WHERE campaign = ?"
)
FILES = "SELECT key, idx, name, url, sha256, size FROM files WHERE campaign = ?"
ATTEMPTS = (
    "SELECT key, attempt, task_id, reserved, charged, refunded, outcome, reason, sent_key"
    " FROM attempts WHERE campaign = ? AND key = ? ORDER BY attempt"
)
MONEY = (
    "SELECT key, CAST(sum(charged) AS BIGINT), CAST(sum(refunded) AS BIGINT),"
    " CAST(sum(reserved) AS BIGINT) FROM attempts WHERE campaign = ? GROUP BY key"
)
VERSIONS = (
    "SELECT attempt, key, idx, name, url, sha256, size FROM file_versions"
    " WHERE campaign = ? ORDER BY key, attempt, idx"
)
TOTALS = "SELECT reserved, charged, refunded FROM campaigns WHERE campaign = ?"
UPLOAD = "SELECT url, recorded_at FROM uploads WHERE sha256 = ?"
QC = "SELECT key, idx, sha256, passed, result FROM qc WHERE campaign = ?"


def submission(row: Sequence[Any]) -> Submission:
    """A row of SUBMISSIONS (its columns in ``Submission``'s order); damaged clip URLs are a
    StateError naming the job."""
    fields = (*row[:10], _clip_urls(row[10], job=row[1], key=row[0]), *row[11:16])
    return Submission(*fields)


def file_record(row: Sequence[Any]) -> FileRecord:
    """A row of FILES (or the file part of VERSIONS)."""
    key, index, name, url, sha256, size = row
    return FileRecord(str(key), int(index), str(name), str(url), str(sha256), int(size))


def file_version(row: Sequence[Any]) -> FileVersion:
    """A row of VERSIONS."""
    return FileVersion(int(row[0]), file_record(row[1:]))


def attempt(row: Sequence[Any]) -> Attempt:
    """A row of ATTEMPTS, money in currency units."""
    key, number, task_id, reserved, charged, refunded, outcome, reason, sent_key = row
    money = (reserved / MICROS, charged / MICROS, refunded / MICROS)
    return Attempt(key, number, task_id, *money, outcome, reason, sent_key)


def money(row: Sequence[Any]) -> tuple[str, Money]:
    """A row of MONEY: the key and its money."""
    return str(row[0]), Money(row[1] / MICROS, row[2] / MICROS, row[3] / MICROS)


def totals(rows: Sequence[Sequence[Any]]) -> Totals:
    """The row of TOTALS (none: nothing spent yet)."""
    reserved, charged, refunded = rows[0] if rows else (0, 0, 0)
    return Totals((charged - refunded) / MICROS, reserved / MICROS, refunded / MICROS)


def upload(sha256: str, rows: Sequence[Sequence[Any]]) -> UploadRecord | None:
    """The row of UPLOAD, or None."""
    return UploadRecord(sha256, str(rows[0][0]), float(rows[0][1])) if rows else None


def qc_record(row: Sequence[Any]) -> tuple[tuple[str, int], QcRecord]:
    """A row of QC: the (key, clip index) it checked, and the check."""
    key, index, sha256, passed, result = row
    return (str(key), int(index)), QcRecord(str(key), int(index), str(sha256), bool(passed), result)


def _clip_urls(text: str, job: str, key: str) -> tuple[str, ...]:
    """The stored JSON list of clip URLs; damage is a StateError naming the job."""
    try:
        urls = json.loads(text)
    except (TypeError, ValueError):
        urls = None
    if not isinstance(urls, list):
        raise damaged_clip_urls(None, job, key)
    return tuple(str(url) for url in urls)


def damaged_clip_urls(path: Path | None, job: str, key: str) -> StateError:
    """The error for a submission whose clip URLs cannot be read back."""
    where = f"state file {path}" if path else "state file"
    return StateError(
        f"{where} is damaged: job {job} ({key[:12]}) has clip URLs that are not a JSON list; "
        "it was left untouched. Restore it from a backup, or move it aside and run again "
        "(a committed manifest restores finished jobs)."
    )
