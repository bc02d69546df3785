"""Checks on what a provider answers before mjv uses it, and redaction before mjv shows it.

Every wire module (one per provider) calls these at its boundary: ``check_url`` on each URL a
provider hands back (clips, uploads, stills), ``check_task_id`` on each task id and ``task_path``
to put one into a request path; ``Bounds`` holds the size and time limits of answers and
downloads. ``redact`` removes keys and URL credentials from any text about to be shown or stored.
No I/O here: the HTTP client applies the bounds while it reads.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from orchestrator.errors import ConfigError, MalformedAnswerError, RefusedDownloadError

MB = 1 << 20
KEY_VARS = ("MJV_API_KEY", "COMETAPI_KEY")  # where the API key is read from, in this order
MAX_URL_CHARS = 4096
# Real task ids: digits (CometAPI), "task_01KV..." (APIMart), hex or UUIDs (Kie.ai).
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}", re.IGNORECASE)
# user:password@ in a URL, and the values of query parameters that carry credentials.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|passwd|auth"
    r"|x-amz-credential|x-amz-signature|signature|sig)=)[^&#\s]+"
)
_PREFIX_MIN = 16  # a key's tail shorter than this could match ordinary text


@dataclass(frozen=True)
class Bounds:
    """Limits on what one provider can make mjv read, hold or wait for."""

    max_answer_bytes: int = 8 * MB  # one API answer; the largest real task list is ~0.3 MB
    max_clip_bytes: int = 256 * MB  # one clip; real ones are 2-40 MB
    download_seconds: float = 900.0  # one whole clip: 256 MB at ~2.3 Mbit/s, 40 MB at 0.4

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Bounds:
        """Read MJV_MAX_ANSWER_MB, MJV_MAX_CLIP_MB and MJV_DOWNLOAD_TIMEOUT (defaults above)."""
        base = cls()
        return cls(
            max_answer_bytes=_mb(env, "MJV_MAX_ANSWER_MB", base.max_answer_bytes),
            max_clip_bytes=_mb(env, "MJV_MAX_CLIP_MB", base.max_clip_bytes),
            download_seconds=_positive(env, "MJV_DOWNLOAD_TIMEOUT", base.download_seconds),
        )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name} must be a positive number, got {text!r}")
    return value


def _mb(env: Mapping[str, str], name: str, default: int) -> int:
    return int(_positive(env, name, default / MB) * MB)


def url_problem(url: Any) -> str | None:
    """Why ``url`` is not a usable http(s) URL (None when it is)."""
    if not isinstance(url, str) or not url:
        return "not a URL"
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    if not url.isascii() or not url.isprintable() or " " in url:
        return "spaces, control or non-ASCII characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on "abc" or 99999
    except ValueError as exc:
        return f"unreadable ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme or 'none'!r} is not http or https"
    if port == 0:
        return "port 0"
    return None if _host_ok(parts.hostname or "") else "no valid host"


def _host_ok(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return len(host) <= 253 and _HOST.fullmatch(host) is not None


def answer_too_large(what: str, limit: int) -> MalformedAnswerError:
    """The error for an API answer over ``limit`` bytes (refused, unread past the limit)."""
    return MalformedAnswerError(
        f"{what}: the provider's answer is larger than {limit / MB:g} MB (MJV_MAX_ANSWER_MB); "
        "refused unread"
    )


def clip_too_large(where: str, limit: int, how: str) -> RefusedDownloadError:
    """The error for a clip over ``limit`` bytes; ``how`` says how it showed."""
    return RefusedDownloadError(
        f"download of {where} refused: {how}, over the clip size cap of {limit / MB:g} MB "
        "(MJV_MAX_CLIP_MB); nothing was kept"
    )


def check_url(url: Any, what: str) -> str:
    """Return ``url`` when it is a usable http(s) URL, else raise MalformedAnswerError."""
    problem = url_problem(url)
    if problem is not None:
        raise MalformedAnswerError(f"{what}: refused URL {shown(url)} ({problem})")
    return str(url)


def check_task_id(task_id: Any, what: str = "task id") -> str:
    """Return ``task_id`` as text when it has a task id's form, else raise MalformedAnswerError."""
    text = str(task_id) if isinstance(task_id, str | int) and not isinstance(task_id, bool) else ""
    if _TASK_ID.fullmatch(text) is None or ".." in text:
        raise MalformedAnswerError(f"refused {what} {shown(task_id)} from the provider")
    return text


def task_path(template: str, task_id: str) -> str:
    """``template`` (e.g. ``/mj/task/{}/fetch``) with the checked id percent-encoded into it."""
    return template.format(quote(check_task_id(task_id), safe=""))


def shown(value: Any, limit: int = 120) -> str:
    """A provider's value, quoted and cut, as it may appear in a message."""
    text = repr(redact_url(value) if isinstance(value, str) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def redact_url(text: str) -> str:
    """``text`` with URL credentials (``user:pass@``, ``?token=...``) replaced by ``***``."""
    return _SECRET_PARAM.sub(r"\1***", redact_userinfo(text))


def redact_userinfo(text: str) -> str:
    """``text`` with the ``user:pass@`` of every URL in it replaced by ``***@``."""
    if "@" not in text or "://" not in text:  # a fast test: the regex tries every word
        return text
    return _URL_USERINFO.sub(r"\1***@", text)


def redact(text: str, secret: str = "") -> str:
    """``text`` without ``secret`` (in any case, with or without its ``sk-`` prefix), anything
    key-shaped, or credentials in URLs: for text about to be shown."""
    return redact_url(redact_key(text, secret))


def redact_key(text: str, secret: str = "") -> str:
    """``text`` without ``secret`` (in any case, with or without its prefix) nor anything
    key-shaped; URLs otherwise untouched (a signed clip URL must keep its query)."""
    if secret and may_hold(text, secret):
        text = secret_pattern(secret).sub("***", text)
    if text.isascii() and "sk-" not in text.lower():  # every string of every answer comes here
        return text
    return _KEY_LIKE.sub("sk-***", text)


@functools.lru_cache(maxsize=8)
def secret_pattern(secret: str) -> re.Pattern[str]:
    """A pattern matching ``secret`` in any case, and its tail after an ``sk-`` prefix."""
    forms = [re.escape(secret)]
    if secret.lower().startswith("sk-") and len(secret) - 3 >= _PREFIX_MIN:
        forms.append(re.escape(secret[3:]))
    return re.compile("|".join(forms), re.IGNORECASE)


def may_hold(text: str, secret: str) -> bool:
    """False only when ``secret_pattern(secret)`` cannot match in ``text``: a fast test for
    long text (lowering ASCII is the regex's case-insensitive match; other text says True)."""
    if not (text.isascii() and secret.isascii()):
        return True
    shortest = (
        secret[3:]
        if secret.lower().startswith("sk-") and len(secret) - 3 >= _PREFIX_MIN
        else secret
    )
    return shortest.lower() in text.lower()


def scrub_answer(text: str, value: Any, secret: str) -> Any:
    """``scrub(value, secret)`` for ``value`` parsed from the JSON ``text``, without visiting
    each string when none can hold a key: ASCII ``text`` without a backslash (so without an
    escape, and each string of ``value`` is a piece of it) that ``may_hold`` neither ``sk-``
    nor ``secret``. A poll's answer has about a hundred strings."""
    clear = text.isascii() and "\\" not in text
    if clear and not may_hold(text, "sk-") and not (secret and may_hold(text, secret)):
        return value
    return scrub(value, secret)


def scrub(value: Any, secret: str) -> Any:
    """A parsed JSON answer with every string passed through ``redact_key``."""
    if isinstance(value, str):
        return redact_key(value, secret)
    if isinstance(value, list):
        return [scrub(item, secret) for item in value]
    if isinstance(value, dict):
        return {key: scrub(item, secret) for key, item in value.items()}
    return value
