"""The review server of `mjv review`: loopback only, a token on every request, Host checked.

It serves the review page, the clips and images it links (from a table, never from a path
in the request), and takes verdict changes, which it writes to the review file only.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from orchestrator.errors import MjvError
from orchestrator.review.site import RequestError, Site

HOST = "127.0.0.1"
COOKIE = "mjv_review"
MAX_BODY = 64 * 1024
CHUNK = 1 << 20
PAGE_CHUNK = 64 * 1024  # characters of the page sent at once


def new_token() -> str:
    """A random token for the page's URL."""
    return secrets.token_urlsafe(24)


class ReviewServer:
    """Serves ``site`` on 127.0.0.1 (``port`` 0: a free one) until stopped."""

    def __init__(self, site: Site, port: int = 0) -> None:
        self.site = site
        self._http = _Server((HOST, port), _Handler, site)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        """The page's URL, token included."""
        return f"http://{HOST}:{self.port}/?token={self.site.token}"

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop`` (or KeyboardInterrupt)."""
        self._http.serve_forever(poll_interval=0.2)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], site: Site) -> None:
        super().__init__(address, handler)
        self.site = site

    def handle_error(self, request: object, client_address: object) -> None:
        """A browser that goes away mid-answer is not an error worth a traceback."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the terminal shows only the URL."""

    def _guarded(self, action: Any) -> None:
        try:
            self._check_host()
            action()
        except RequestError as exc:
            self._send_json(exc.status, {"error": str(exc)})
        except MjvError as exc:  # the review file cannot be read or written
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})

    def _check_host(self) -> None:
        # DNS rebinding: a page of another site that resolves to 127.0.0.1 sends its own Host.
        if self.headers.get("Host") != f"{HOST}:{self.server.server_address[1]}":
            raise RequestError(HTTPStatus.FORBIDDEN, "wrong Host: open the URL mjv printed")

    def _token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given, self.server.site.token)

    def _cookie_token(self) -> str | None:
        jar = SimpleCookie(self.headers.get("Cookie") or "")
        return jar[COOKIE].value if COOKIE in jar else None

    def _get(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/":
            given = parse_qs(url.query).get("token", [None])[0] or self._cookie_token()
            if not self._token_ok(given):
                raise RequestError(HTTPStatus.FORBIDDEN, "missing or wrong token")
            self._send_page(self.server.site.page())
            return
        if not self._token_ok(self._cookie_token()):
            raise RequestError(HTTPStatus.FORBIDDEN, "missing or wrong token")
        found = self.server.site.medium(url.path)
        if found is None:
            raise RequestError(HTTPStatus.NOT_FOUND, "not found")
        self._send_file(*found)

    def _post(self) -> None:
        if urlsplit(self.path).path != "/api/verdict":
            raise RequestError(HTTPStatus.NOT_FOUND, "not found")
        if not self._token_ok(self.headers.get("X-MJV-Token")):
            raise RequestError(HTTPStatus.FORBIDDEN, "missing or wrong token")
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{self.headers.get('Host')}":
            raise RequestError(HTTPStatus.FORBIDDEN, "foreign Origin")
        self._send_json(HTTPStatus.OK, self.server.site.change(self._body()))

    def _body(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            raise RequestError(HTTPStatus.BAD_REQUEST, "a JSON body of at most 64 KB")
        try:
            return json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None

    def _send_page(self, chunks: Iterator[str]) -> None:
        """The page in chunks as it is rendered: the browser paints the first cards meanwhile."""
        first = next(chunks, "")  # the head: built from every card, so errors come before it
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        token = self.server.site.token
        self.send_header("Set-Cookie", f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
        self.end_headers()
        batch = [first]
        for chunk in chunks:
            batch.append(chunk)
            if sum(map(len, batch)) >= PAGE_CHUNK:
                self._write_chunk("".join(batch))
                batch = []
        self._write_chunk("".join(batch))
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, text: str) -> None:
        data = text.encode("utf-8")
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")

    def _send_file(self, path: Any, media_type: str) -> None:
        with path.open("rb") as handle:
            size = path.stat().st_size
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            while chunk := handle.read(CHUNK):
                self.wfile.write(chunk)

    def _send_json(self, status: int, value: Any) -> None:
        data = json.dumps(value, sort_keys=True).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status >= HTTPStatus.BAD_REQUEST:  # a refused request's body may still be unread
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)
