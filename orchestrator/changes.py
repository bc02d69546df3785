"""Why a job changed: what differs between the request that ran and the one the spec makes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.providers import DEFAULT_PROVIDER

_SHORT = 60


def differences(before: str | None, after: Mapping[str, Any], where: str = "") -> list[str]:
    """Human lines naming each field that differs (``before`` is a recorded canonical JSON)."""
    if not before:
        return [f"{where or 'request'}: not recorded (an older state); the fingerprint differs"]
    try:
        old = json.loads(before)
    except ValueError:
        return [f"{where or 'request'}: unreadable record; the fingerprint differs"]
    lines: list[str] = []
    new = dict(after)
    if isinstance(old, dict) and "settings" in new:  # a base clip: no provider means CometAPI's
        old.setdefault("provider", DEFAULT_PROVIDER)
        new.setdefault("provider", DEFAULT_PROVIDER)
    _walk(old, new, where, lines)
    return lines or [f"{where or 'request'}: same fields, different fingerprint"]


def _walk(old: Any, new: Any, path: str, lines: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _walk(old.get(key), new.get(key), f"{path}.{key}" if path else key, lines)
    elif old != new:
        lines.append(f"{path}: {_show(old)} -> {_show(new)}")


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64 and value.isalnum():
        return f"sha256 {value[:12]}"  # an image's content hash
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHORT else text[: _SHORT - 4] + '..."'
