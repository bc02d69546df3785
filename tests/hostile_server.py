"""A hostile provider for tests: the simulator's answers, bent by one mode at a time.

Loopback only and bounded in time: every streamed body stops after ``MAX_SECONDS``, and the
server thread stops when the ``hostile`` context ends. Each field of ``Hostile`` is a mode;
the defaults behave like the simulator. ``requests`` lists every path asked for.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from orchestrator.simulator import SimulatorConfig
from orchestrator.simulator.provider import FakeProvider, Reply

KEY = "sk-hostile0123456789abcdefXYZ"  # long enough that its bare tail is redacted too
MAX_SECONDS = 20.0  # no answer of this server lasts longer
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
_CHUNK = 1 << 16


@dataclass
class Hostile:
    """How the provider misbehaves (every field a mode; the defaults misbehave in nothing)."""

    clip_url: str | None = None  # every clip URL of every task replaced by this one
    extra_clips: int = 0  # this many clip URLs beyond the batch in every finished task
    task_id: str | None = None  # every submit accepted with this task id
    fail_reason: str | None = None  # every task ends in FAILURE with this failReason
    answer_bytes: int = 0  # poll answers this long (a JSON string of "x"), streamed
    announce_answer: bool = True  # ... with a Content-Length (else chunked, no length)
    answer_gzip: int = 0  # poll answers this long once inflated, sent gzipped (a gzip bomb)
    clip_bytes: int = 0  # clips this long (an MP4 head, then zeros), streamed
    announce_clip: bool = True  # ... with a Content-Length (else chunked, no length)
    clip_trickle: float = 0.0  # clips sent one byte every this many seconds (never ending)
    clip_redirect: str | None = None  # clips answer 302 to this Location
    requests: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = MAX_SECONDS
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        mode, provider = self.server.mode, self.server.provider
        mode.requests.append(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        is_clip = self.path.startswith("/cdn/")
        if is_clip and mode.clip_redirect is not None:
            return self._redirect(mode.clip_redirect)
        if is_clip and (mode.clip_bytes or mode.clip_trickle):
            return self._stream_clip()
        is_poll = "/mj/task/" in self.path
        if is_poll and mode.answer_gzip:
            return self._gzip_bomb(mode.answer_gzip)
        if is_poll and mode.answer_bytes:
            return self._stream(b'{"pad": "', mode.answer_bytes, b"x", mode.announce_answer)
        reply = provider.handle(self.command, self.path, headers, raw)
        self._send(reply.status, _bend(reply, mode, self.path, provider.base_url), reply)

    def _send(self, status: int, body: bytes, reply: Reply) -> None:
        self.send_response(status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _gzip_bomb(self, size: int) -> None:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header
        body = b"".join(packer.compress(b" " * _CHUNK * 16) for _ in range(size // (_CHUNK * 16)))
        body += packer.flush()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _stream_clip(self) -> None:
        mode = self.server.mode
        if mode.clip_trickle:
            return self._trickle(mode.clip_trickle)
        self._stream(MP4_HEAD, mode.clip_bytes, b"\x00", mode.announce_clip, "video/mp4")

    def _stream(
        self, head: bytes, size: int, fill: bytes, announce: bool, kind: str = "application/json"
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if announce:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + MAX_SECONDS
        sent, chunk = 0, head + fill * (_CHUNK - len(head))
        while sent < size and time.monotonic() < deadline and not self.server.closing:
            piece = chunk[: size - sent]
            self.wfile.write(piece if announce else b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
            chunk = fill * _CHUNK
        if not announce and sent >= size:
            self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _trickle(self, every: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(10 * len(MP4_HEAD)))
        self.end_headers()
        deadline = time.monotonic() + MAX_SECONDS
        for byte in MP4_HEAD * 10:
            if time.monotonic() > deadline or self.server.closing:
                break
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(every)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _bend(reply: Reply, mode: Hostile, path: str, base: str) -> bytes:
    """The simulator's answer with the mode's changes."""
    try:
        payload = json.loads(reply.body)
    except ValueError:
        return reply.body
    accepted = isinstance(payload, dict) and payload.get("code") == 1
    if "/mj/submit/" in path and mode.task_id is not None and accepted:
        payload["result"] = mode.task_id
    tasks = payload if isinstance(payload, list) else [payload]
    for task in tasks:
        if isinstance(task, dict) and "status" in task:
            _bend_task(task, mode, base)
    return json.dumps(payload).encode()


def _bend_task(task: dict[str, Any], mode: Hostile, base: str) -> None:
    if mode.fail_reason is not None and task["status"] in ("SUCCESS", "FAILURE"):
        task.update(status="FAILURE", failReason=mode.fail_reason, videoUrls=None)
        return
    urls = task.get("videoUrls")
    if task["status"] != "SUCCESS" or not urls:
        return
    if mode.clip_url is not None:
        urls = [{"url": mode.clip_url} for _ in urls]
    extra = [
        {"url": f"{base}/cdn/{task['id']}/{len(urls) + i}.mp4"} for i in range(mode.extra_clips)
    ]
    task["videoUrls"] = urls + extra
    task["videoUrl"] = urls[0]["url"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """mjv hanging up on a body it refused is the point here, not worth a traceback."""

    def __init__(self, mode: Hostile, provider: FakeProvider) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode, self.provider, self.closing = mode, provider, False


@dataclass
class Running:
    """A started hostile provider: its base URL, its mode and the simulator behind it."""

    base_url: str
    mode: Hostile
    provider: FakeProvider


@contextmanager
def hostile(mode: Hostile, **config: Any) -> Iterator[Running]:
    """Serve ``mode`` on loopback (tasks take 50 ms) until the block ends."""
    settings = SimulatorConfig(**{"job_seconds": 0.05, "slots": 4, "api_key": KEY, **config})
    provider = FakeProvider(settings)
    server = _Server(mode, provider)
    host, port = server.server_address[:2]
    provider.base_url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield Running(provider.base_url, mode, provider)
    finally:
        server.closing = True
        server.shutdown()
        server.server_close()
        thread.join(timeout=MAX_SECONDS)
        provider.close()
