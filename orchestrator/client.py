"""Async client of the Midjourney video API over CometAPI: the only module that speaks HTTP."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import importlib
import json
import os
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from orchestrator.errors import (
    ConfigError,
    DownloadError,
    MalformedAnswerError,
    ProviderError,
    ProviderUnreachableError,
    RefusedDownloadError,
    ServerError,
    SubmitOutcomeUnknownError,
    UnusableAcceptanceError,
)
from orchestrator.provider import OnSend
from orchestrator.providers import DEFAULT_PROVIDER, provider_info
from orchestrator.tls import LazyCAContext
from orchestrator.wire import (
    HD_VIDEO,
    ExtendRequest,
    Task,
    VideoRequest,
    accepted_task_id,
    classify_failure,
    envelope_result,
    extend_body,
    http_error,
    parse_task,
    parse_tasks,
    submit_path,
    video_body,
)
from orchestrator.wirecheck import (
    MB,
    Bounds,
    answer_too_large,
    check_url,
    clip_too_large,
    redact,
    redact_url,
    scrub_answer,
    shown,
    task_path,
    url_problem,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "Client",
    "ExtendRequest",
    "Task",
    "VideoRequest",
    "classify_failure",
]

DEFAULT_BASE_URL = "https://api.cometapi.com"
DEFAULT_BOUNDS = Bounds()
ErrorMap = Callable[[int, Any, str | None, bool], ProviderError]
"""(HTTP status, JSON answer, Retry-After, was it a submit) -> the error it means."""
# The Midjourney CDN sits behind a bot filter; midjourney-proxy's own fetcher sends a browser
# User-Agent (MjImageFetchHelper.cs), and so do downloads here unless MJV_USER_AGENT says else.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
# Failures before any byte left: the provider never saw the request, so a retry is safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_EXPIRED = (403, 404, 410)  # what an expired signed URL answers
_ENCODINGS = "gzip, deflate"  # the encodings asked for, and the only ones inflated
_INFLATED = ("gzip", "x-gzip", "deflate")
_GZIP_OR_ZLIB = 47  # zlib's wbits: 32 (detect a gzip or zlib header) + 15 (the largest window)
_PIECE = 1 << 20  # the most a compressed body is inflated at once
# httpcore's trace events fired just before a request's first byte is written.
_SENDING = ("http11.send_request_headers.started", "http2.send_request_headers.started")
# ... and once the whole request is written (an ``on_send`` with ``written()`` hears of it).
_WRITTEN = ("http11.send_request_body.complete", "http2.send_request_body.complete")


def load_http_backend() -> None:
    """Import now what httpcore's anyio backend imports on its first use (anyio loads its
    parts lazily): otherwise the event loop stalls 50-150 ms at the first request and again at
    the first download, in the middle of the run's first round."""
    import anyio
    import anyio.abc
    import anyio.streams.tls

    for name in ("BrokenResourceError", "CancelScope", "ClosedResourceError", "EndOfStream"):
        getattr(anyio, name)
    for name in ("Event", "Lock", "Semaphore", "connect_tcp", "connect_unix", "fail_after"):
        getattr(anyio, name)
    anyio.abc.SocketAttribute, anyio.abc.ByteStream  # noqa: B018 (loaded on first access)
    anyio.streams.tls.TLSStream  # noqa: B018
    with contextlib.suppress(ImportError):  # another layout: then loaded at the first request
        importlib.import_module("anyio._backends._asyncio")  # chosen at the first request


class Client:
    """One account on one provider: every API call, plus unauthenticated clip downloads."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        download_transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        max_in_flight: int = 4,
        user_agent: str = BROWSER_USER_AGENT,
        bounds: Bounds = DEFAULT_BOUNDS,
        error_map: ErrorMap = http_error,
    ) -> None:
        self._key = _check_key(api_key)
        load_http_backend()
        self._error_map = error_map  # the provider's reading of a non-200 answer
        self.base_url = _check_base_url(base_url)
        self.shown_url = redact_url(self.base_url)  # what messages may show of it
        self.bounds = bounds
        # A real connection pool reports the moment a request is written (httpcore's trace);
        # a transport passed in (tests) may not, so the hook then runs just before the call.
        self._traced = transport is None
        self._api = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self._key}", "Accept-Encoding": _ENCODINGS},
            transport=transport,
            timeout=timeout,
            verify=_ssl_context(),
        )
        # API requests in flight at once: polite to the gateway, and httpcore's pool does work
        # per request that grows with its open connections. (Downloads are paced by the engine.)
        self._gate = asyncio.Semaphore(max_in_flight)
        # A separate client without the Authorization header: clip URLs can name any host.
        self._cdn = httpx.AsyncClient(
            transport=download_transport,
            timeout=timeout,
            follow_redirects=True,
            verify=_ssl_context(),
            headers={"User-Agent": user_agent, "Accept-Encoding": _ENCODINGS},
            event_hooks={"request": [_check_hop]},  # every hop of a redirect is checked too
        )

    @classmethod
    def from_env(
        cls,
        base_url: str | None = None,
        env: Mapping[str, str] | None = None,
        *,
        provider: str = DEFAULT_PROVIDER,
        **kw: Any,
    ) -> Client:
        """Build a client from MJV_API_KEY (or COMETAPI_KEY), MJV_BASE_URL, MJV_TIMEOUT and the
        bounds of ``Bounds.from_env`` (MJV_MAX_ANSWER_MB, MJV_MAX_CLIP_MB, MJV_DOWNLOAD_TIMEOUT);
        another ``provider`` reads its own key and URL variables (providers.PROVIDERS)."""
        env = os.environ if env is None else env
        info = provider_info(provider)
        key = next((env[name] for name in info.key_vars if env.get(name, "").strip()), None)
        if key is None:
            where = " ".join(info.key_vars[:1]) + f" (or {info.key_vars[1]})"
            of = "" if provider == DEFAULT_PROVIDER else f" for {provider}"
            raise ConfigError(f"no API key{of}: set {where} in the environment")
        if "timeout" not in kw and env.get("MJV_TIMEOUT"):
            kw["timeout"] = _parse_timeout(env["MJV_TIMEOUT"])
        if "user_agent" not in kw and env.get("MJV_USER_AGENT", "").strip():
            kw["user_agent"] = env["MJV_USER_AGENT"].strip()
        kw.setdefault("bounds", Bounds.from_env(env))
        url = next((env[n] for n in info.url_vars if env.get(n, "").strip()), info.base_url)
        return cls(key, base_url or url, **kw)

    @property
    def account(self) -> str:
        """A name for the provider account (this key at this gateway) that never shows the key:
        runners sharing a state and an account share its job slots."""
        digest = hashlib.sha256(f"{self.base_url}\n{self._key}".encode()).hexdigest()
        return f"acct-{digest[:16]}"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close both connection pools."""
        await self._api.aclose()
        await self._cdn.aclose()

    async def create_video(self, req: VideoRequest, on_send: OnSend | None = None) -> str:
        """Submit a video job (under its mode's path); return its task id."""
        path = submit_path("video", req.settings.mode)
        hd = req.settings.video_type == HD_VIDEO
        return accepted_task_id(
            await self._submit(path, video_body(req), req.state, on_send, hd=hd)
        )

    async def extend_video(self, req: ExtendRequest, on_send: OnSend | None = None) -> str:
        """Submit an extension of one clip of a finished video task; return the new task id."""
        path = submit_path("video", req.mode)
        return accepted_task_id(await self._submit(path, extend_body(req), req.state, on_send))

    async def imagine(
        self, prompt: str, *, mode: str = "fast", state: str = "", on_send: OnSend | None = None
    ) -> str:
        """Submit an imagine (2x2 grid) job; return its task id."""
        body = {"prompt": prompt, "state": state}
        return accepted_task_id(
            await self._submit(submit_path("imagine", mode), body, state, on_send)
        )

    async def action(
        self,
        task_id: str,
        custom_id: str,
        *,
        mode: str = "fast",
        state: str = "",
        on_send: OnSend | None = None,
    ) -> str:
        """Press a task's button (e.g. an upsample); return the new task id."""
        body = {"taskId": task_id, "customId": custom_id, "state": state}
        return accepted_task_id(
            await self._submit(submit_path("action", mode), body, state, on_send)
        )

    async def modal(
        self, task_id: str, prompt: str, *, mode: str = "fast", on_send: OnSend | None = None
    ) -> str:
        """Answer a task waiting in status MODAL; return the task id."""
        body = {"taskId": task_id, "prompt": prompt}
        return accepted_task_id(await self._submit(submit_path("modal", mode), body, "", on_send))

    async def upload_images(
        self, images: Sequence[tuple[bytes, str]], on_send: OnSend | None = None
    ) -> list[str]:
        """Upload local images as data URIs; return their public URLs, in order."""
        uris = [f"data:{mime};base64,{base64.b64encode(data).decode()}" for data, mime in images]
        body = {"base64Array": uris}
        result = await self._submit("/mj/submit/upload-discord-images", body, "", on_send)
        urls = result if isinstance(result, list) else [result]
        if len(urls) != len(images):
            raise ServerError(f"upload returned {len(urls)} URLs for {len(images)} images")
        try:
            return [check_url(url, "upload") for url in urls]
        except MalformedAnswerError as exc:  # accepted (and maybe charged), but unusable
            raise UnusableAcceptanceError(str(exc)) from None

    async def fetch_task(self, task_id: str) -> Task:
        """Fetch one task object."""
        return parse_task(await self._call("GET", task_path("/mj/task/{}/fetch", task_id)))

    async def list_tasks(self, ids: Sequence[str]) -> list[Task]:
        """Fetch many tasks in one call; unknown ids are left out."""
        if not ids:
            return []
        body = await self._call("POST", "/mj/task/list-by-condition", {"ids": list(ids)})
        if not isinstance(body, list):
            raise ServerError("list-by-condition did not return a list")
        return parse_tasks(body)

    async def download(self, url: str, sink: Callable[[bytes], None]) -> int:
        """Stream ``url`` (without credentials) into ``sink``; return the byte count.

        Within the bounds: a malformed URL or a clip over ``max_clip_bytes`` is refused
        (RefusedDownloadError), one not done in ``download_seconds`` is a ServerError.
        """
        problem = url_problem(url)
        if problem is not None:
            raise RefusedDownloadError(f"refused clip URL {shown(url)} ({problem})")
        where, seconds = redact_url(url), self.bounds.download_seconds
        try:
            async with asyncio.timeout(seconds), self._cdn.stream("GET", url) as resp:
                _check_clip_answer(resp, where, self.bounds.max_clip_bytes)
                return await _drain(resp, sink, where, self.bounds.max_clip_bytes)
        except TimeoutError:
            raise ServerError(
                f"download of {where} did not finish within {seconds:g} s "
                "(MJV_DOWNLOAD_TIMEOUT); nothing was kept"
            ) from None
        except httpx.InvalidURL as exc:  # e.g. a redirect to a malformed URL
            raise RefusedDownloadError(f"download of {where} refused: {exc}") from None
        except httpx.HTTPError as exc:
            raise ServerError(f"download of {where} failed: {type(exc).__name__}") from None

    async def ping(self) -> float:
        """An authenticated call that creates nothing (a list of no tasks); return its seconds."""
        started = time.monotonic()
        body = await self._call("POST", "/mj/task/list-by-condition", {"ids": []})
        if not isinstance(body, list):
            raise ServerError("list-by-condition did not return a list")
        return time.monotonic() - started

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        submit: bool = False,
        on_send: OnSend | None = None,
    ) -> Any:
        """One API call for a provider adapter: the answer's JSON, or the error it means."""
        return await self._call(method, path, body, submit=submit, on_send=on_send)

    async def _submit(
        self,
        path: str,
        body: dict[str, Any],
        state: str,
        on_send: OnSend | None,
        *,
        hd: bool = False,
    ) -> str | list[str]:
        headers = {"Idempotency-Key": state} if state else None
        answer = await self._call("POST", path, body, headers, submit=True, on_send=on_send)
        return envelope_result(answer, hd=hd)

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        submit: bool = False,
        on_send: OnSend | None = None,
    ) -> Any:
        sent = _SendHook(on_send)
        try:
            async with self._gate:
                if not self._traced:
                    await sent.fire()
                extensions = {"trace": sent.trace} if self._traced and on_send else None
                request = self._api.build_request(
                    method, path, json=body, headers=headers, extensions=extensions
                )
                resp = await self._read_answer(request, sent, f"{method} {path}")
        except httpx.HTTPError as exc:
            where = f"{method} {self.shown_url}{path}"
            # Not one byte was written: the provider never saw it, whatever the exception.
            submit = submit and (sent.fired or on_send is None)
            raise _transport_error(exc, where, redact(str(exc), self._key), submit) from None
        except MalformedAnswerError as exc:
            if submit:  # the answer was too large to read: it may say "accepted"
                raise SubmitOutcomeUnknownError(f"{exc}; the job may have been accepted") from None
            raise
        status, text, retry_after = resp
        payload = scrub_answer(text, _json(text), self._key)
        if status != 200:
            raise self._error_map(status, payload, retry_after, submit)
        if payload is None and not submit:
            raise ServerError(f"{method} {path}: unreadable answer from provider")
        return payload

    async def _read_answer(
        self, request: httpx.Request, sent: _SendHook, what: str
    ) -> tuple[int, str, str | None]:
        """Send and read the answer within ``max_answer_bytes``: status, text, Retry-After."""
        resp = await self._api.send(request, stream=True)
        try:
            await sent.fire()  # an answer came, so it was sent (a transport that never traced)
            limit = self.bounds.max_answer_bytes
            if _announced(resp) > limit:
                raise answer_too_large(what, limit)
            content = bytearray()
            async for chunk in _decoded(resp, limit, lambda: answer_too_large(what, limit)):
                content += chunk
        finally:
            await resp.aclose()
        text = content.decode(resp.charset_encoding or "utf-8", errors="replace")
        return resp.status_code, text, resp.headers.get("Retry-After")


class _SendHook:
    """Awaits ``on_send`` once, when httpcore is about to write the request's first byte
    (httpcore awaits its async trace hook before it writes)."""

    def __init__(self, on_send: OnSend | None) -> None:
        self._on_send = on_send
        self.fired = False

    async def fire(self) -> None:
        if not self.fired and self._on_send is not None:
            self.fired = True
            pending = self._on_send()
            if pending is not None:
                await pending

    async def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if event in _SENDING:
            await self.fire()
        elif event in _WRITTEN and self.fired:
            written = getattr(self._on_send, "written", None)
            if written is not None:
                written()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Shared by every client; its CA bundle (~20 ms) loads at the first https connection only.
    return LazyCAContext.client()


def _transport_error(exc: httpx.HTTPError, where: str, detail: str, submit: bool) -> Exception:
    what = f"{where}: {type(exc).__name__}" + (f" ({detail})" if detail else "")
    if submit and not isinstance(exc, _NOT_SENT):
        return SubmitOutcomeUnknownError(f"{what}; the job may have been accepted")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ProviderUnreachableError(what)
    return ServerError(what)


async def _check_hop(request: httpx.Request) -> None:
    """Refuse to send a download request (a redirect's too) to a malformed URL."""
    problem = url_problem(str(request.url))
    if problem is not None:
        raise RefusedDownloadError(f"refused clip URL {shown(str(request.url))} ({problem})")


def _announced(resp: httpx.Response) -> int:
    """The Content-Length a response announces (0 when none or unreadable)."""
    try:
        return max(0, int(resp.headers.get("Content-Length") or 0))
    except ValueError:
        return 0


def _check_clip_answer(resp: httpx.Response, where: str, limit: int) -> None:
    """Refuse an error status, or a clip announced over the size cap, before reading it."""
    if resp.status_code in _EXPIRED:
        raise DownloadError(
            f"{where} no longer answers (HTTP {resp.status_code}): expired at the "
            "provider, or removed"
        )
    if resp.status_code >= 400:
        raise DownloadError(f"download of {where} failed: HTTP {resp.status_code}")
    if _announced(resp) > limit:
        raise clip_too_large(where, limit, f"announced as {_announced(resp) / MB:.0f} MB")


async def _drain(
    resp: httpx.Response, sink: Callable[[bytes], None], where: str, limit: int
) -> int:
    size = 0
    too_large = functools.partial(clip_too_large, where, limit, "the body kept coming")
    async for chunk in _decoded(resp, limit, too_large):
        size += len(chunk)
        sink(chunk)
    return size


async def _decoded(
    resp: httpx.Response, limit: int, too_large: Callable[[], Exception]
) -> AsyncIterator[bytes]:
    """The body of ``resp``, decoded, never past ``limit`` bytes: a compressed body is
    inflated a piece at a time, so a small gzip bomb cannot balloon in memory either."""
    size = 0
    async for piece in _pieces(resp):
        size += len(piece)
        if size > limit:
            raise too_large()
        yield piece


async def _pieces(resp: httpx.Response) -> AsyncIterator[bytes]:
    if resp.is_stream_consumed:  # a transport that handed over the whole, decoded body
        yield resp.content
        return
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", *_INFLATED):
        raise MalformedAnswerError(f"an answer in an encoding mjv did not ask for: {encoding!r}")
    inflate = zlib.decompressobj(_GZIP_OR_ZLIB) if encoding in _INFLATED else None
    async for raw in resp.aiter_raw():
        while inflate is not None and raw:
            piece, raw = inflate.decompress(raw, _PIECE), inflate.unconsumed_tail
            yield piece
        if inflate is None:
            yield raw


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text  # HTML error pages and the like: kept as text for the message


def _check_key(key: str) -> str:
    key = key.strip()
    if not key or not key.isascii() or not key.isprintable() or " " in key:
        raise ConfigError("the API key is empty or contains spaces or control characters")
    return key


def _check_base_url(url: str) -> str:
    problem = url_problem(url)
    if problem is not None:
        raise ConfigError(f"base URL {shown(url)} is not usable: {problem}")
    return url.rstrip("/")


def _parse_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigError(f"MJV_TIMEOUT must be a positive number of seconds, got {text!r}")
    return value
