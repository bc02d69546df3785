"""A minimal Language Server Protocol client over stdio, for the YAML language server test."""

from __future__ import annotations

import json
import subprocess
from typing import Any


class LspClient:
    """Speaks JSON-RPC with Content-Length framing to a server process; answers its requests."""

    def __init__(self, command: list[str]) -> None:
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self._next = 0

    def request(self, method: str, params: dict[str, Any]) -> Any:
        """Send a request and return its result, answering server requests meanwhile."""
        self._next += 1
        ident = self._next
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        while True:
            message = self._read()
            if message.get("id") == ident and "method" not in message:
                return message.get("result")
            if "method" in message and "id" in message:  # e.g. workspace/configuration
                items = message.get("params", {}).get("items", [])
                answer = [{} for _ in items] if items else None
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": answer})

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification (no answer)."""
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def close(self) -> None:
        """Stop the server and close its pipes."""
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EOFError("the language server exited")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        result: dict[str, Any] = json.loads(self.proc.stdout.read(length))
        return result
