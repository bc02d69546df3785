"""A provider profile's front: another reseller's wire format over the same simulated account.

A front checks a request strictly against that provider's contract (PROVIDERS.md), turns it
into the CometAPI request the simulated account understands, and turns the answer back into
the provider's shapes, so tasks, slots, faults, money, clips and the world file are shared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

from orchestrator.providers.pricing import PUBLISHED
from orchestrator.simulator.cdn import is_download
from orchestrator.simulator.provider import FakeProvider
from orchestrator.simulator.replies import Reply, json_reply
from orchestrator.simulator.tasks import SimTask


class Front(Protocol):
    """What the HTTP server calls: the CometAPI FakeProvider itself, or a profile's front."""

    def handle(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        """Answer one request; ``headers`` keys are lower-case."""

    def release(self, key: str) -> None:
        """The answer for an Idempotency-Key was sent."""

    def note_fault(self, name: str) -> None:
        """Count a fault the server injected itself."""


class BadRequest(Exception):
    """A request the provider's contract refuses (HTTP 400 with the provider's error body)."""


class ProfileFront:
    """Shared plumbing of the APIMart and Kie fronts."""

    name = ""

    def __init__(self, inner: FakeProvider) -> None:
        self.inner = inner
        self._auth = f"Bearer {inner.config.api_key}"
        inner.ledger.pricer = self.price

    def price(self, kind: str, mode: str, task_id: str) -> float | None:
        """The charge of a submit on this provider (None: the CometAPI price table)."""
        return None

    def handle(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        """Downloads pass through; API calls are checked for the key, then routed."""
        bare = path.split("?", 1)[0]
        if is_download(method, bare):
            return self.inner.handle(method, path, headers, raw)
        if headers.get("authorization") != self._auth:
            return self.unauthorized()
        try:
            return self.route(method, path, raw)
        except BadRequest as exc:
            return self.bad_request(str(exc))

    def release(self, key: str) -> None:
        """Passed to the account (these wires send no Idempotency-Key, so it is a no-op)."""
        self.inner.release(key)

    def note_fault(self, name: str) -> None:
        """Count a fault the server injected itself."""
        self.inner.note_fault(name)

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        """Answer an authenticated API call."""
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        """The provider's answer to a missing or wrong key."""
        raise NotImplementedError

    def bad_request(self, message: str) -> Reply:
        """The provider's answer to a request its contract refuses."""
        raise NotImplementedError

    def clip_price(self, task: SimTask) -> float:
        """This provider's published price of a video submit: per clip of the batch, HD apart."""
        prices = PUBLISHED[self.name].prices
        hd = task.properties.get("videoType") == "vid_1.1_i2v_720"
        return round(prices["fast_hd" if hd else "fast"] * task.batch, 6)

    def accepted(self, task_id: str) -> dict[str, Any]:
        """The provider's body for an accepted submit of the account's task ``task_id``."""
        raise NotImplementedError

    def refusal(self, kind: str, text: str, reply: Reply) -> Reply:
        """The provider's answer for an account answer of ``refusal_kind`` ``kind``."""
        raise NotImplementedError

    def not_found(self) -> Reply:
        """The provider's answer to a query of a task it does not know."""
        raise NotImplementedError

    def answer(self, reply: Reply) -> Reply:
        """The account's answer to a submit, in the provider's shapes (a dropped one as is)."""
        task_id = accepted_id(reply)
        if task_id is not None:
            return reply_like(reply, self.accepted(task_id))
        return reply if reply.drop else self.refusal(*refusal_kind(reply), reply)

    def look_up(self, task_id: str) -> dict[str, Any] | Reply:
        """The account's task object, or the answer instead: the account's own trouble
        (rate limit, server error), else not found."""
        raw, reply = self.fetch(task_id) if task_id else (None, None)
        if raw is not None:
            return raw
        if reply is not None and reply.status in (429, 500, 502, 503):
            return self.refusal(*refusal_kind(reply), reply)
        return self.not_found()

    def submit(self, body: dict[str, Any]) -> Reply:
        """Send a CometAPI video submit to the account (fast mode, the only one offered)."""
        # No key travels on these wires; the request's content names the job in the ledger.
        body["state"] = hashlib.sha256(_canonical(body)).hexdigest()[:32]
        return self._inner("POST", "/mj-fast/mj/submit/video", body)

    def fetch(self, task_id: str) -> tuple[dict[str, Any] | None, Reply]:
        """(the CometAPI task object or None, the account's answer)."""
        reply = self._inner("GET", f"/mj/task/{task_id}/fetch", None)
        payload = _loads(reply.body) if reply.status == 200 else None
        return (payload if isinstance(payload, dict) else None), reply

    def task(self, task_id: str) -> SimTask | None:
        """The account's own record of a task."""
        with self.inner.lock:
            return self.inner.book().get(task_id)

    def _inner(self, method: str, path: str, body: dict[str, Any] | None) -> Reply:
        raw = b"" if body is None else _canonical(body)
        return self.inner.handle(method, path, {"authorization": self._auth}, raw)


def read_object(raw: bytes) -> dict[str, Any]:
    """A JSON object body, or BadRequest."""
    body = _loads(raw)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def check_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """Fields the contract does not list are refused (the stricter reading)."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}")


def one_of(body: Mapping[str, Any], name: str, values: tuple[Any, ...], default: Any) -> Any:
    """The value of ``name`` (``default`` when absent), which must be one of ``values``."""
    value = body.get(name, default)
    if isinstance(value, bool) and not any(isinstance(v, bool) for v in values):
        raise BadRequest(f"{name} must be one of {', '.join(map(str, values))}")
    if value not in values:
        raise BadRequest(f"{name} must be one of {', '.join(map(str, values))}")
    return value


def inner_error(reply: Reply) -> tuple[int, str]:
    """(HTTP status, text) of an account answer that is not an accepted submit."""
    payload = _loads(reply.body)
    if isinstance(payload, dict):
        err = payload.get("error")
        text = err.get("message") if isinstance(err, dict) else None
        text = text or payload.get("description") or payload.get("message") or ""
        return reply.status, str(text).strip()
    return reply.status, reply.body.decode("utf-8", "replace")[:200]


def refusal_kind(reply: Reply) -> tuple[str, str]:
    """(kind, text) of an account answer that accepted nothing: ``rate``, ``quota``,
    ``unknown`` (accepted and charged, the answer lost), ``500``, ``502``, ``503``,
    ``invalid`` (HTTP 200 code 4) or ``other`` (queue full, refusals, relay errors)."""
    status, text = inner_error(reply)
    if status == 429:
        return "rate", text
    if "quota_not_enough" in text or "所余资金不足" in text:
        return "quota", text
    if "accepted_state_unknown" in text:
        return "unknown", text
    if status in (500, 502, 503):
        return str(status), text
    if status == 200 and reply.code() == 4:
        return "invalid", text
    return "other", text


def accepted_id(reply: Reply) -> str | None:
    """The task id of an accepted CometAPI submit envelope, else None."""
    payload = _loads(reply.body)
    if reply.status == 200 and isinstance(payload, dict) and payload.get("code") in (1, 21, 22):
        result = payload.get("result")
        return str(result) if result else None
    return None


def reply_like(reply: Reply, payload: Any, status: int | None = None) -> Reply:
    """A JSON answer keeping the account's headers (Retry-After) and a dropped connection."""
    out = json_reply(reply.status if status is None else status, payload, **dict(reply.headers))
    return Reply(out.status, out.body, out.content_type, out.headers, reply.drop, reply.release)


def _canonical(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False).encode()


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None
