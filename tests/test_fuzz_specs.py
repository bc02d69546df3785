"""A seeded mutation fuzzer: mangled copies of every example and fixture spec never crash or
hang `mjv validate` or `mjv plan`; each ends with exit code 0, 1 or 2 within a time bound.

A failure names the seed, the mutant's number and its text; rerun one spec with
``pytest tests/test_fuzz_specs.py -k <spec stem>``.
"""

from __future__ import annotations

import _thread
import io
import random
import re
import shutil
import threading
import time
import zlib
from pathlib import Path

import pytest

from orchestrator.cli import main

REPO = Path(__file__).resolve().parent.parent
FOLDERS = (
    REPO / "specs",
    REPO / "tests" / "data" / "positive",
    REPO / "tests" / "data" / "negative",
)
SOURCES = sorted(p for folder in FOLDERS for p in folder.glob("*.yaml"))
SEED = 20261125
MUTANTS_PER_SPEC = 150
LIMIT_SECONDS = 5.0  # per command; a refused template stops at 1 s, everything else is fast
ODD_VALUES = (
    "-1",
    "0",
    "1e308",
    "1.0e+308",
    "-1.0e+400",
    ".nan",
    ".inf",
    "-.inf",
    "2.0",
    "9" * 40,
    '""',
    "''",
    "null",
    "true",
    "[]",
    "{}",
    "{{",
    "}}",
    "'{{ x }}'",
    "'{% for %}'",
    "'{{ nope }}'",
    "\"{{ 'x' * 10**12 }}\"",
    "'{{ lipsum(10**7) }}'",
    "\"{{ 'abc' | truncate(-1) }}\"",
    "'{{ (1e308 * 10) | int }}'",
    "/dev/zero",
    "../../etc/passwd",
    "'/**/*.png'",
    "'**/*'",
    "'a\\0b'",
    '"a\\0b"',
    "~",
    "&a x",
    "*a",
    "*nothing",
    "!!python/object:os.system",
    "|",
    "'" + "x" * 20_000 + "'",
    "[" * 80 + "]" * 80,
    "{a: " * 80 + "1" + "}" * 80,
    "- x",
    "x: y",
    "{loop: true}",
    "[a, b",
    "{a: 1",
    "\t1",
    "!!binary aGk=",
    "2024-01-01",
    "0x1F",
    "0o17",
)


def _mutate(text: str, rng: random.Random) -> str:
    """One to three random edits of the YAML text: lines dropped, copied, swapped, re-indented,
    values, words and numbers replaced by odd values, or the file cut short."""
    lines = text.splitlines() or [""]
    for _ in range(rng.randint(1, 3)):
        lines = _edit(lines, rng.randrange(len(lines)), rng) or [""]
    return "\n".join(lines) + "\n"


def _edit(lines: list[str], k: int, rng: random.Random) -> list[str]:
    kind = rng.choice("ddcswiivvvvnnnt")
    line = lines[k]
    if kind == "d":
        return lines[:k] + lines[k + 1 :]
    if kind == "c":
        return lines[: k + 1] + lines[k:]
    if kind == "s":
        j = rng.randrange(len(lines))
        lines[k], lines[j] = lines[j], lines[k]
    elif kind == "i":
        lines[k] = rng.choice(("  ", "    ", "")) + line.lstrip()
    elif kind == "v" and ": " in line:
        lines[k] = line.split(": ", 1)[0] + ": " + rng.choice(ODD_VALUES)
    elif kind == "w":
        words = line.split(" ")
        words[rng.randrange(len(words))] = rng.choice(ODD_VALUES)
        lines[k] = " ".join(words)
    elif kind == "n":
        _renumber(lines, rng)
    elif kind == "t":
        return [*lines[:k], line[: rng.randrange(len(line) + 1)]]  # the file cut short
    return lines


def _renumber(lines: list[str], rng: random.Random) -> None:
    """Turn a number of the file into a float, a negative, NaN or a huge one."""
    numbered = [i for i, line in enumerate(lines) if re.search(r"\b\d+\b", line)] or [0]
    k = rng.choice(numbered)
    odd = rng.choice(("{}.0", "-{}", "{}.5", ".nan", "1.0e+999", "{}" + "0" * 30, "0"))
    lines[k] = re.sub(r"\b\d+\b", lambda m: odd.format(m[0]), lines[k], count=1)


def _run(argv: list[str]) -> tuple[int, str, float]:
    """main(argv) in-process; a watchdog interrupts it (exit 130) if it runs over the limit."""
    out, err = io.StringIO(), io.StringIO()
    watchdog = threading.Timer(LIMIT_SECONDS, _thread.interrupt_main)
    watchdog.start()
    start = time.perf_counter()
    try:
        code = main(argv, out, err)
    finally:
        watchdog.cancel()
    return code, out.getvalue() + err.getvalue(), time.perf_counter() - start


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copies of the spec folders (with their images), so mutants resolve the same files."""
    root = tmp_path_factory.mktemp("fuzz")
    for folder in FOLDERS:
        shutil.copytree(folder, root / folder.name)
    return root


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_mutants_never_crash_or_hang(source: Path, workspace: Path) -> None:
    text = source.read_bytes().decode("utf-8", errors="replace")
    seed = SEED + zlib.crc32(source.name.encode())
    rng = random.Random(seed)
    spec = workspace / source.parent.name / f"mutant-{source.stem}.yaml"
    for number in range(MUTANTS_PER_SPEC):
        mutant = _mutate(text, rng)
        spec.write_text(mutant, encoding="utf-8")
        for verb in ("validate", "plan"):
            where = f"seed {seed}, mutant {number} of {source.name}, mjv {verb}:\n{mutant}"
            try:
                code, output, seconds = _run([verb, str(spec)])
            except BaseException as exc:  # report the mutant, whatever escaped
                pytest.fail(f"{type(exc).__name__}: {exc}\n{where}")
            assert code in (0, 1, 2), f"exit {code}\n{output}\n{where}"
            assert seconds < LIMIT_SECONDS, where
            assert "Traceback" not in output and "internal error" not in output, output + where
