"""Uploaded images expire: when a cached upload URL may still be sent (pure)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from orchestrator.state.records import UploadRecord

# Uploaded images are signed links that expire (API.md "Uploads expire"): without an `ex=` in
# the URL, trust one for 12 hours; and never send one that dies within 2 hours, since a task may
# wait in the provider's queue that long before the start frame is fetched.
UPLOAD_TTL = 12 * 3600.0
FRESH_MARGIN = 2 * 3600.0


def upload_expiry(record: UploadRecord) -> float:
    """Wall-clock time an uploaded URL dies: its signed ``ex=`` (hex), else a conservative TTL."""
    values = parse_qs(urlsplit(record.url).query).get("ex", [])
    try:
        return float(int(values[0], 16))
    except (IndexError, ValueError):
        return record.recorded_at + UPLOAD_TTL


def is_fresh(record: UploadRecord, now: float) -> bool:
    """True when the uploaded URL outlives now by the safety margin."""
    return upload_expiry(record) > now + FRESH_MARGIN
