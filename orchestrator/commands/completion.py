"""`mjv completion SHELL`: print a completion script for bash or zsh."""

from __future__ import annotations

import argparse
from typing import TextIO

from orchestrator.completion import script
from orchestrator.errors import EXIT_OK


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the script for ``args.shell`` to ``out``."""
    out.write(script(args.shell, args.build_parser()))
    return EXIT_OK
