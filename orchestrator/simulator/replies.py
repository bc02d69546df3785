"""The shapes of the simulator's answers: gateway envelopes, relay errors, trueai refusals."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One HTTP answer; ``drop`` closes the connection instead of sending it."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False
    release: str = ""  # an Idempotency-Key to release once the answer is sent

    def code(self) -> int | None:
        """The ``code`` of a JSON object body, None for anything else."""
        try:
            payload = json.loads(self.body)
        except ValueError:
            return None
        code = payload.get("code") if isinstance(payload, dict) else None
        return code if isinstance(code, int) else None


def json_reply(status: int, payload: Any, **headers: str) -> Reply:
    """Return a JSON reply."""
    return Reply(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)


def envelope(code: int, description: str, result: Any = None, **props: Any) -> Reply:
    """Return a submit envelope (always HTTP 200, like the provider)."""
    payload = {"code": code, "description": description, "result": result, "properties": props}
    return json_reply(200, payload)


def upstream_error(description: str, code: int = 4) -> Reply:
    """Return new-api's HTTP 400 relay error body; ``"%s %s"`` leaves the trailing space."""
    body = {"description": f"{description} ", "type": "upstream_error", "code": code}
    return json_reply(400, body)


def logic_refusal(message: str) -> Reply:
    """Return trueai's LogicException answer: HTTP 200, ``success: false``, nothing accepted."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return json_reply(200, {"success": False, "code": -1, "message": message, "timestamp": stamp})


def gateway_error(status: int, message: str, **headers: str) -> Reply:
    """Return the gateway's own error object (bad key, unknown route, rate limit)."""
    body = {"error": {"message": message, "type": "comet_api_error"}}
    return json_reply(status, body, **headers)


def not_found() -> Reply:
    """The CDN's answer for anything it does not (or no longer) serve."""
    return Reply(404, b"not found", "text/plain")
