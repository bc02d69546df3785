"""Where the state lives: a file path (by default beside the spec) or a PostgreSQL URL, and
URLs shown without passwords."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from orchestrator.errors import ConfigError

POSTGRES_SCHEMES = ("postgresql", "postgres")
DEFAULT_SCHEMA = "mjv"
STATE_ENV = "MJV_STATE"
STATE_DIR = ".mjv"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SEARCH_PATH = re.compile(r"-c\s*search_path=([^\s,]+)")


@dataclass(frozen=True)
class PostgresUrl:
    """A PostgreSQL state: what libpq connects to, the schema holding it, and a safe display."""

    conninfo: str  # the URL without ``schema``; may hold a password, so never shown
    schema: str
    shown: str  # the URL with the password removed, for messages


def default_state_path(spec_path: Path, simulated: bool = False) -> Path:
    """``.mjv/state.db`` beside the spec; simulated runs keep a file of their own."""
    name = "state-simulated.db" if simulated else "state.db"
    return spec_path.parent / STATE_DIR / name


def is_postgres_url(location: str | Path) -> bool:
    """True when ``location`` is a ``postgresql://`` or ``postgres://`` URL."""
    return isinstance(location, str) and location.split(":", 1)[0].lower() in POSTGRES_SCHEMES


def locate_state(location: str | Path | None, *, default_path: Path) -> Path | PostgresUrl:
    """Resolve ``--state`` (else ``$MJV_STATE``, else ``default_path``) to a file or a URL."""
    chosen = location or os.environ.get(STATE_ENV) or default_path
    return parse_postgres_url(chosen) if is_postgres_url(chosen) else Path(chosen)


def parse_postgres_url(url: str | Path) -> PostgresUrl:
    """Split ``?schema=NAME`` (or ``options=-csearch_path=NAME``) off a PostgreSQL URL."""
    parts = urlsplit(str(url))
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = [value for name, value in query if name == "schema"]
    searched = [_SEARCH_PATH.search(value) for name, value in query if name == "options"]
    paths = [match.group(1) for match in searched if match]
    schema = (given or paths or [DEFAULT_SCHEMA])[-1]
    shown = redact(str(url))
    if not _SCHEMA_NAME.match(schema):
        raise ConfigError(f"state URL {shown}: schema {schema!r} is not a plain SQL name")
    kept = urlencode([(name, value) for name, value in query if name != "schema"], safe="/")
    return PostgresUrl(_rebuild(parts, parts.netloc, kept), schema, shown)


def redact(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        users, host = netloc.rsplit("@", 1)
        netloc = users.split(":", 1)[0] + "@" + host
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = urlencode([(name, value) for name, value in query if name != "password"], safe="/")
    return _rebuild(parts, netloc, kept)


def _rebuild(parts: SplitResult, netloc: str, query: str) -> str:
    """Join a URL again, keeping ``scheme://`` even with no host (urlunsplit drops it)."""
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def password_of(url: str) -> str | None:
    """The password written in ``url``, so messages can be scrubbed of it."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return parts.password or query.get("password")
