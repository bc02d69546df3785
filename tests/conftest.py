"""Shared fixtures: every test runs in its own temp dir, with a fake home and no real keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep tests out of the real home, the checkout and the real provider."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for name in ("MJV_API_KEY", "COMETAPI_KEY", "MJV_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield
