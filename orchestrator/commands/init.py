"""`mjv init [DIR]`: make a ready campaign repository, or add what is missing to one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from orchestrator.errors import EXIT_OK, UsageError
from orchestrator.scaffold import SPEC, scaffold


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the files, say which were made and which were kept, and what to do next."""
    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: not a folder")
    try:
        written = scaffold(root, args.mjv_source)
    except OSError as exc:
        raise UsageError(f"{root}: cannot write there: {exc.strerror or exc}") from exc
    for item in written:
        verb = "created" if item.created else "kept (already there)"
        out.write(f"  {verb:<21} {item.path}\n")
    spec = root / SPEC
    out.write(
        "\nnext:\n"
        f"  mjv validate {root / 'campaigns'}\n"
        f"  mjv run {spec} --simulate     # a free rehearsal\n"
        f"  mjv run {spec}                # for real, with MJV_API_KEY set\n"
    )
    return EXIT_OK
