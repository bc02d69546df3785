"""Telling a person that a run has ended: one JSON summary POSTed to a webhook.

The post runs in a daemon thread that the run waits for at most ``timeout`` seconds in all, so
a hook that hangs, trickles or fails never fails the run nor delays its exit by more than that.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 10.0
ENV_URL = "MJV_NOTIFY_URL"
ENV_TIMEOUT = "MJV_NOTIFY_TIMEOUT"


@dataclass(frozen=True)
class RunSummary:
    """What the notification says about a run that ended."""

    campaign: str
    outcome: str  # done | some jobs not done | stopped | interrupted | error
    exit_code: int
    jobs: int
    done: int
    failed: int
    waiting: int  # neither done nor failed: in doubt, blocked, stuck, not reached
    spent: float | None
    currency: str
    report: str | None

    def payload(self) -> dict[str, object]:
        """The JSON body: every field, plus ``text`` that Slack or Mattermost show as is."""
        return {**asdict(self), "text": self.text()}

    def text(self) -> str:
        """One line a person reads in a chat channel."""
        spent = "unknown" if self.spent is None else f"{self.spent:.2f} {self.currency}".strip()
        line = (
            f"mjv {self.campaign}: {self.outcome} (exit {self.exit_code}); "
            f"{self.done}/{self.jobs} done, {self.failed} failed, {self.waiting} waiting; "
            f"spent {spent}"
        )
        return line + (f"; report {self.report}" if self.report else "")


def shown_url(url: str) -> str:
    """The URL as logs may show it: scheme and host only (webhook secrets live in the path
    or the query string)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a webhook (None when it can)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the notify URL must be an http:// or https:// URL"
    return None


def timeout_from(env: Mapping[str, str]) -> float:
    """MJV_NOTIFY_TIMEOUT in seconds (between 0.1 and 60), else the default."""
    try:
        value = float(env.get(ENV_TIMEOUT, "") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT
    return min(max(value, 0.1), 60.0)


def post(url: str, summary: RunSummary, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """POST the summary; return None when the hook answered 2xx, else what went wrong."""
    outcome: list[str | None] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_send(url, summary, timeout)), daemon=True
    )
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else _silent(url, timeout)


def _silent(url: str, timeout: float) -> str:
    return f"{shown_url(url)} did not answer within {timeout:g} s"


def _send(url: str, summary: RunSummary, timeout: float) -> str | None:
    body = json.dumps(summary.payload(), sort_keys=True).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read(65536)
            return None
    except urllib.error.HTTPError as exc:
        return f"{shown_url(url)} answered HTTP {exc.code}"
    except TimeoutError:
        return _silent(url, timeout)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return _silent(url, timeout)
        return f"{shown_url(url)} could not be reached ({_scrubbed(str(exc.reason), url)})"
    except (OSError, ValueError) as exc:  # refused, DNS, TLS, timeout, a bad URL
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return f"{shown_url(url)} could not be reached ({_scrubbed(str(reason), url)})"


def _scrubbed(text: str, url: str) -> str:
    """An error text without the URL's path or query (where a webhook's secret lives)."""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if secret and len(secret) > 1:
            text = text.replace(secret, "…")
    return text
