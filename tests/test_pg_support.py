"""The PostgreSQL fixture finds its programs on any root PATH: a gate must not flake."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pg_support import NoServerError, _as_server_user, find_bin_dir, which


def test_programs_are_found_without_the_sbin_folders_on_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nowhere")
    if not Path("/usr/sbin/runuser").exists():
        pytest.skip("no /usr/sbin/runuser here")
    assert which("runuser") == "/usr/sbin/runuser"
    if os.geteuid() == 0:
        assert _as_server_user(["initdb"])[:3] == ["/usr/sbin/runuser", "-u", "postgres"]
    try:
        assert (find_bin_dir() / "initdb").exists()
    except NoServerError:
        pytest.skip("no PostgreSQL binaries here")


def test_a_missing_runuser_is_no_server_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root needs runuser")
    monkeypatch.setattr("pg_support.which", lambda name: None)
    with pytest.raises(NoServerError, match="no runuser"):
        _as_server_user(["initdb"])
