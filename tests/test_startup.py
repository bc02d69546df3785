"""`mjv run` start-up: only what a run uses is imported, TLS set up only when https is used."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.tls import LazyCAContext

PROBE = """
import json, sys
from orchestrator.client import Client, _ssl_context
import orchestrator.commands.run
Client("sk-probe", "http://127.0.0.1:9")
print(json.dumps({"simulator": "orchestrator.simulator" in sys.modules,
                  "ca_loaded": _ssl_context().ca_loaded}))
"""


def test_run_against_http_imports_no_simulator_and_loads_no_ca(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert json.loads(done.stdout) == {"simulator": False, "ca_loaded": False}


def test_tls_context_verifies_and_loads_the_ca_bundle_at_the_first_connection() -> None:
    context = LazyCAContext.client()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.com")
    assert context.ca_loaded
    assert context.cert_store_stats()["x509_ca"] > 0


def test_tls_context_honours_ssl_cert_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    context = LazyCAContext.client()
    with pytest.raises(FileNotFoundError):
        context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.com")
    assert not context.ca_loaded


CLI_PROBE = """
import json, sys
from orchestrator.cli import main
code = main(["run", "missing.yaml"])
print(json.dumps({"code": code, "httpx": "httpx" in sys.modules,
                  "httpx_cli": [m for m in ("httpx._main", "click", "rich", "pygments")
                                if sys.modules.get(m) is not None]}))
"""


def test_the_mjv_process_never_imports_the_httpx_command_line_client(tmp_path: Path) -> None:
    # click and pygments are installed here (dev tools' dependencies): httpx would import them.
    done = subprocess.run(
        [sys.executable, "-c", CLI_PROBE], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert json.loads(done.stdout) == {"code": 64, "httpx": True, "httpx_cli": []}
    assert "missing.yaml: no such file" in done.stderr
