"""The simulator's HTTP server: a threaded stdlib server on loopback, startable in-process."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.front import Front
from orchestrator.simulator.ledger import Charge, SubmitRecord
from orchestrator.simulator.profiles import make_front, profile_config
from orchestrator.simulator.provider import FakeProvider, Reply

DEFAULT_CONFIG = SimulatorConfig()


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into FakeProvider calls; keeps connections alive like a gateway."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # two writes per answer would otherwise stall on delayed ACK
    timeout = 60  # idle keep-alive connections release their thread eventually
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.provider.handle(self.command, self.path, headers, raw)
        if self.server.slow > 0:
            self.server.provider.note_fault("slow")
            time.sleep(self.server.slow)
        try:
            if reply.drop:
                self.close_connection = True  # the submit was accepted, but no answer arrives
                return
            self._send(reply)
        finally:
            if reply.release:
                self.server.provider.release(reply.release)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: a benchmark makes thousands of requests."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], provider: Front, slow: float) -> None:
        super().__init__(address, _Handler)
        self.provider = provider
        self.slow = slow

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up (a killed `mjv run`) is normal here, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Simulator:
    """The provider simulator served on loopback from a background thread."""

    def __init__(
        self,
        config: SimulatorConfig = DEFAULT_CONFIG,
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        world: Path | None = None,
        profile: str = "cometapi",
    ) -> None:
        config = profile_config(profile, config)
        self.config = config
        self.profile = profile
        self.provider = FakeProvider(config, clock, world)
        self.front = make_front(profile, self.provider)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Root URL of the running server, e.g. ``http://127.0.0.1:54321``."""
        if not self.provider.base_url:
            raise RuntimeError("the simulator is not started")
        return self.provider.base_url

    def start(self) -> None:
        """Bind the port and serve from a daemon thread."""
        self._server = self._bind()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _bind(self) -> _Server:
        server = _Server(self._address, self.front, self.config.slow)
        host, port = server.server_address[:2]
        self.provider.base_url = f"http://{host!s}:{port}"
        return server

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server, self._thread = None, None
        self.provider.close()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def accepted_submissions(self) -> dict[str, int]:
        """Charged submissions per Idempotency-Key (or ``state``; "" when neither was sent)."""
        with self.provider.lock:
            return dict(self.provider.ledger.per_key)

    def submit_requests(self) -> int:
        """Submit requests received (create, extend, imagine, action, modal, upload)."""
        with self.provider.lock:
            return self.provider.submit_requests

    def charges(self) -> list[Charge]:
        """The ledger in order: one entry per charge and per refund."""
        self.provider.advance()  # tasks that ended since the last request get their refunds
        with self.provider.lock:
            return list(self.provider.ledger.entries)

    def money(self) -> float:
        """Net amount charged: charges minus refunds, rounded to 1e-6."""
        self.provider.advance()
        with self.provider.lock:
            return self.provider.ledger.money()

    def submit_log(self) -> list[SubmitRecord]:
        """Every submit request received, with its answer and whether it was charged."""
        with self.provider.lock:
            return list(self.provider.ledger.submits)

    def peak_running(self) -> int:
        """Most tasks of the account (one API key) running at once so far."""
        self.provider.advance()
        with self.provider.lock:
            return self.provider.peak_running

    def requests_by_route(self) -> dict[str, int]:
        """Requests received per route, e.g. ``POST /mj/submit/video`` or ``GET /cdn``."""
        with self.provider.lock:
            return dict(self.provider.routes)

    def total_requests(self) -> int:
        """Every request received, CDN downloads included."""
        with self.provider.lock:
            return sum(self.provider.routes.values())

    def first_accepted_at(self) -> float | None:
        """Clock time of the first charged submission, None before it (for makespans)."""
        with self.provider.lock:
            return self.provider.first_accepted

    def faults_injected(self) -> dict[str, int]:
        """Faults injected so far, by option name."""
        with self.provider.lock:
            return dict(self.provider.faults)
