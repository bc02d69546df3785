"""Where cassette tests talk to: the recorded cassette, the simulator, or the real provider.

Replay (the default): requests go to a placeholder URL and vcrpy answers from `cassettes/`.
Record against the simulator: ``MJV_RECORD=1 pytest tests/test_cassettes.py --record-mode=rewrite``.
Record against the real provider (costs money): ``MJV_RECORD=real`` with ``MJV_RECORD_API_KEY``
and optionally ``MJV_RECORD_BASE_URL``; scenarios that need injected faults are skipped then.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.client import DEFAULT_BASE_URL
from orchestrator.simulator import Simulator, SimulatorConfig

REPO = Path(__file__).resolve().parent.parent
CASSETTES = REPO / "cassettes"
REPLAY_URL = "http://provider.invalid"
REPLAY_KEY = "replay-placeholder"
# Anything shaped like a provider key or a bearer credential.
KEY_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"Bearer\s+(?!<redacted>)\S+", re.IGNORECASE),
)
# Environment names read before the autouse fixture clears MJV_API_KEY and friends.
LOOPBACK = re.compile(r"http://127\.0\.0\.1:\d+")  # a fresh port per recording: keep diffs small
RECORD = os.environ.get("MJV_RECORD", "")
RECORD_KEY = os.environ.get("MJV_RECORD_API_KEY", "")
RECORD_URL = os.environ.get("MJV_RECORD_BASE_URL", "") or DEFAULT_BASE_URL


@dataclass(frozen=True)
class Target:
    """Where one cassette test sends its requests, and how long it waits between polls."""

    base_url: str
    api_key: str
    poll_seconds: float


@contextmanager
def target(config: SimulatorConfig | None = None) -> Iterator[Target]:
    """Yield the target of a scenario; ``config`` marks a scenario the simulator must stage."""
    if RECORD == "real":
        if config is not None:
            pytest.skip("this scenario needs the simulator's fault injection")
        yield Target(RECORD_URL, RECORD_KEY, 5.0)
    elif RECORD:
        with Simulator(config or SimulatorConfig(job_seconds=0.05)) as sim:
            yield Target(sim.base_url, sim.config.api_key, 0.02)
    else:
        yield Target(REPLAY_URL, REPLAY_KEY, 0.0)


def secrets() -> list[str]:
    """The keys that must never land in a cassette."""
    return [s for s in (RECORD_KEY, SimulatorConfig().api_key) if s]


def scrub(text: str) -> str:
    """Remove every secret and key-shaped string, and the simulator's port, from ``text``."""
    for secret in secrets():
        text = text.replace(secret, "<redacted>")
    return LOOPBACK.sub(REPLAY_URL, KEY_PATTERNS[0].sub("<redacted>", text))


def scrub_request(request: Any) -> Any:
    """vcrpy hook: drop credentials from a request before it is written."""
    for name in ("authorization", "host"):
        request.headers.pop(name, None)
    request.uri = scrub(request.uri)
    if isinstance(request.body, bytes):
        request.body = scrub(request.body.decode("utf-8", "replace")).encode()
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy hook: drop anything key-shaped a provider echoed back in a response body."""
    headers = response.get("headers", {})
    headers.pop("date", None)
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes) and "video/mp4" not in headers.get("content-type", []):
        with contextlib.suppress(UnicodeDecodeError):  # binary media: nothing textual to leak
            response["body"]["string"] = scrub(body.decode("utf-8")).encode()
    return response


def vcr_settings() -> dict[str, Any]:
    """The vcrpy configuration of every cassette test."""
    return {
        "filter_headers": ["authorization"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        # Hosts and ports differ between recording (a free loopback port) and replay.
        "match_on": ["method", "path", "query", "body"],
        "decode_compressed_response": True,
    }


def leaks(root: Path = CASSETTES) -> list[str]:
    """Return ``file: match`` for every key-looking string under ``root``."""
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text("utf-8", errors="replace")
        for pattern in KEY_PATTERNS:
            found += [
                f"{path.relative_to(root)}: {m.group(0)[:12]}..." for m in pattern.finditer(text)
            ]
        if re.search(r"^\s*-?\s*[Aa]uthorization:", text, re.MULTILINE):
            found.append(f"{path.relative_to(root)}: an Authorization header")
    return found
