"""What `mjv init` writes: a campaign repository that validates, plans and rehearses at once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator import __version__
from orchestrator.spec.schema import SCHEMA_PATH

TEMPLATES = Path(__file__).resolve().parent / "data" / "init"
SPEC = Path("campaigns/first/campaign.yaml")
SCHEMA = Path("schema/campaign.schema.json")  # the starter spec's $schema points here
WORKFLOW = Path(".github/workflows/mjv.yml")

# where each file goes -> its template in orchestrator/data/init
_FILES = (
    (SPEC, "campaign.yaml"),
    (Path("campaigns/first/assets/sample.png"), "sample.png"),
    (Path(".gitignore"), "gitignore"),
    (WORKFLOW, "workflow.yml"),
    (Path(".pre-commit-config.yaml"), "pre-commit-config.yaml"),
)


@dataclass(frozen=True)
class Written:
    """One file of the repository: made now, or left as it was."""

    path: Path
    created: bool


def default_source() -> str:
    """What CI installs: this very version of mjv."""
    return f"mjv=={__version__}"


def scaffold(root: Path, source: str | None = None) -> list[Written]:
    """Write every missing file of a campaign repository under ``root``; never overwrite."""
    requirement = source or default_source()
    results = [_write(root / SCHEMA, SCHEMA_PATH.read_bytes())]
    for target, template in _FILES:
        data = (TEMPLATES / template).read_bytes()
        if template.endswith((".yml", ".yaml")) and template != "campaign.yaml":
            data = data.replace(b"{source}", requirement.encode())
        results.append(_write(root / target, data))
    return results


def _write(path: Path, data: bytes) -> Written:
    """Create ``path`` with ``data`` unless something is already there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return Written(path, created=False)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return Written(path, created=True)
