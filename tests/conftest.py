"""Shared fixtures: every test runs in its own temp dir, with a fake home and no real keys."""

from __future__ import annotations

import os
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
