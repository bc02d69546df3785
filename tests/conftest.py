"""Shared fixtures: every test runs in its own temp dir, with a fake home and no real keys."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.providers import PROVIDERS

PROVIDER_VARS = tuple(v for info in PROVIDERS.values() for v in (*info.key_vars, *info.url_vars))

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep tests out of the real home, the checkout and the real provider."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for name in ("MJV_API_KEY", "COMETAPI_KEY", "MJV_BASE_URL", "MJV_PROVIDER", *PROVIDER_VARS):
        monkeypatch.delenv(name, raising=False)
    yield


_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


def _loopback(host: object) -> bool:
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the network: a name that is not loopback does not resolve (a run now
    fetches start images by URL, and test specs name hosts like cdn.example.com)."""
    real = socket.getaddrinfo

    def resolve(host: object, *args: object, **kw: object) -> object:
        if host is not None and not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve loopback only, not {host}")
        return real(host, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a private PostgreSQL server for this session; skipped (failed in CI) without one."""
    from pg_support import NoServerError, postgres_server

    try:
        with postgres_server() as url:
            yield url
    except NoServerError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a PostgreSQL server: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
