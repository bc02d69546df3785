"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl on a unix socket in a temp dir."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DATABASE = "mjvtest"
# A root shell's PATH may lack the sbin folders (su without -, sudo's secure_path, CI images):
# programs are looked for there too, never by bare name.
SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def which(name: str) -> str | None:
    """``name`` on PATH, else in the system folders a root PATH may leave out."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SYSTEM_DIRS])
    return shutil.which(name, path=path)


class NoServerError(Exception):
    """No PostgreSQL server can be had here (binaries missing or unusable)."""


def find_bin_dir() -> Path:
    """The folder of initdb and pg_ctl: $PG_BIN, Debian's /usr/lib/postgresql/<ver>/bin, PATH."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += sorted(glob.glob("/usr/pgsql-*/bin"), reverse=True)  # the PGDG RPMs
    found = which("initdb")
    candidates.append(str(Path(found).parent) if found else "")
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise NoServerError("no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql")


def _as_server_user(args: list[str]) -> list[str]:
    """initdb refuses root: as root, run the server as the ``postgres`` user."""
    if os.geteuid() != 0:
        return args
    runuser = which("runuser")
    if runuser is None:
        raise NoServerError("running as root, and no runuser to start the server as postgres")
    return [runuser, "-u", "postgres", "--", *args]


def _run(args: list[str]) -> None:
    """Run one server command; NoServerError with its output when it fails."""
    done = subprocess.run(_as_server_user(args), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NoServerError(f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout}")


@contextmanager
def postgres_server(durable: bool = False) -> Iterator[str]:
    """Start a private server; yield the URL of an empty database; stop and delete it after.

    Tests run it without fsync (their data is thrown away); ``durable`` keeps the defaults.
    """
    bin_dir = find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="mjv-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        data, log = root / "data", root / "server.log"
        _run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
        options = f"-c listen_addresses='' -c unix_socket_directories={root}"
        options += "" if durable else " -c fsync=off"
        _run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
        )
        try:
            _run([str(bin_dir / "createdb"), "-h", str(root), "-U", "postgres", DATABASE])
            yield f"postgresql:///{DATABASE}?host={root}&user=postgres"
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
