"""The review file beside a spec: read and checked with file:line problems, written stably.

``spring.yaml`` has ``spring.review.yaml``: one entry per reviewed clip, keyed by the clip's
path in the output folder and bound to its sha256. It is meant to be committed, so it is
written in one canonical form (clips sorted, fields in a fixed order) and a change is a small
diff. Writes are read-modify-write under a lock and swapped in with ``os.replace``, so two
writers (two browser tabs, a tab and ``mjv approve``) never lose an edit.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import MjvError, SpecError
from orchestrator.review.names import clip_step
from orchestrator.spec.problems import Problem, sort_problems
from orchestrator.spec.schema import check_schema, schema_validator
from orchestrator.spec.yamlsource import Document, parse_yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "review.schema.json"
SUFFIX = ".review.yaml"
APPROVED, REJECTED = "approved", "rejected"
VERDICTS = (APPROVED, REJECTED)
HEADER = (
    "# Verdicts on the clips of {spec}: written by `mjv review`, `mjv approve` and\n"
    "# `mjv reject`. Commit it: an `index: approved` extension step extends the approved clip.\n"
)
MAX_BYTES = 20 * 1024 * 1024
# path -> (sha256 of its bytes, review): a file is read for every verdict (another writer may
# have changed it), but checking it again when its bytes are the same would cost more.
_KNOWN: dict[str, tuple[str, Review]] = {}
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*")
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")


class ReviewError(MjvError):
    """The review file cannot be read or written."""


@dataclass(frozen=True)
class Verdict:
    """The verdict on one clip (``clip`` is ``<job folder>/<file>``)."""

    clip: str
    sha256: str
    verdict: str | None  # approved | rejected; None: unreviewed, maybe with stars or a note
    stars: int | None = None
    note: str | None = None
    by: str = ""
    at: str = ""


@dataclass(frozen=True)
class Review:
    """Every verdict of a review file, by clip path."""

    verdicts: Mapping[str, Verdict] = field(default_factory=dict)

    def on(self, clip: str, sha256: str) -> Verdict | None:
        """The verdict on ``clip`` when it is still the clip that was reviewed (same sha256)."""
        found = self.verdicts.get(clip)
        return found if found is not None and found.sha256 == sha256 else None


def review_path(spec: Path) -> Path:
    """Where the review file of the spec at ``spec`` lives: ``<stem>.review.yaml`` beside it."""
    return spec.with_name(spec.stem + SUFFIX)


def is_review_file(path: Path) -> bool:
    """True for a ``*.review.yaml`` file (never a spec)."""
    return path.name.endswith(SUFFIX)


@functools.cache
def _validator() -> Any:
    return schema_validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def check_review(path: Path) -> tuple[Problem, ...]:
    """Every problem of the review file at ``path`` (none when it is absent or valid)."""
    try:
        load_review(path)
    except SpecError as exc:
        return tuple(p for p in exc.problems if isinstance(p, Problem))
    return ()


def load_review(path: Path) -> Review:
    """The review file at ``path`` (empty when there is none); SpecError with every problem."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Review()
    except OSError as exc:
        raise ReviewError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ReviewError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB")
    digest = hashlib.sha256(raw).hexdigest()
    known = _KNOWN.get(str(path))
    if known is not None and known[0] == digest:  # read again, but checked already
        return known[1]
    doc = parse_yaml(str(path), raw)
    if not doc.problems:
        _check(doc)
    if doc.problems:
        problems = sort_problems(doc.problems)
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        raise SpecError(f"{path}: {count} found", problems)
    review = _review(doc.data)
    _KNOWN[str(path)] = (digest, review)
    return review


def _check(doc: Document) -> None:
    if not isinstance(doc.data, dict):
        doc.problem((), "the review file must be a mapping with version and clips")
        return
    if check_schema(doc, _validator()):
        return
    approved: dict[tuple[str, int], str] = {}
    for clip, entry in doc.data["clips"].items():
        if entry.get("verdict") != APPROVED:
            continue
        folder, step, _ = clip_step(clip)
        other = approved.setdefault((folder, step), clip)
        if other != clip:
            message = f"{other} and {clip} are both approved: one approved clip per step"
            doc.problem(("clips", clip), message, key=True)


def _review(data: dict[str, Any]) -> Review:
    return Review({clip: _verdict(clip, entry) for clip, entry in data["clips"].items()})


def _verdict(clip: str, entry: dict[str, Any]) -> Verdict:
    return Verdict(
        clip,
        entry["sha256"],
        entry.get("verdict"),
        entry.get("stars"),
        entry.get("note"),
        str(entry.get("by", "")),
        str(entry.get("at", "")),
    )


def render_review(review: Review, spec_name: str) -> str:
    """The canonical text of ``review``: clips sorted by path, fields in a fixed order.

    Written by hand rather than by PyYAML's emitter, which took 40 ms for 100 clips: every
    verdict rewrites the file. Texts are double-quoted JSON strings (valid YAML too).
    """
    lines = [HEADER.format(spec=spec_name), "version: 1\n"]
    if not review.verdicts:
        return "".join([*lines, "clips: {}\n"])
    lines.append("clips:\n")
    for clip in sorted(review.verdicts):
        lines.append(f"  {_scalar(clip)}:\n")
        lines.extend(f"    {key}: {value}\n" for key, value in _fields(review.verdicts[clip]))
    return "".join(lines)


def _fields(verdict: Verdict) -> Iterator[tuple[str, str]]:
    if verdict.verdict:
        yield "verdict", verdict.verdict
    if verdict.stars is not None:
        yield "stars", str(verdict.stars)
    if verdict.note:
        yield "note", _quoted(verdict.note)
    yield "sha256", _scalar(verdict.sha256)
    if verdict.by:
        yield "by", _quoted(verdict.by)
    if verdict.at:
        yield "at", _quoted(verdict.at)


def _scalar(text: str) -> str:
    """``text`` plain when YAML reads it back as that same string, else quoted."""
    if _PLAIN.fullmatch(text) and yaml.load(text, Loader=_LOADER) == text:
        return text
    return _quoted(text)


def _quoted(text: str) -> str:
    # JSON escapes the C0 controls; YAML also folds or refuses a few more characters.
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def update_review(path: Path, change: Callable[[Review], Review], spec_name: str) -> Review:
    """Apply ``change`` to the review file under its lock and write it atomically; return it.

    The file is read again inside the lock, so an edit made meanwhile by another writer is
    kept. A change that changes nothing writes nothing.
    """
    with _locked(path):
        before = load_review(path)
        after = change(before)
        if after.verdicts != before.verdicts:
            text = render_review(after, spec_name)
            _replace(path, text)
            _KNOWN[str(path)] = (hashlib.sha256(text.encode("utf-8")).hexdigest(), after)
        return after


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``.mjv/<review file>.lock`` beside the spec (never committed)."""
    lock = path.parent / ".mjv" / f"{path.name}.lock"
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = lock.open("a")
    except OSError as exc:
        raise ReviewError(f"{lock}: cannot lock the review file: {exc.strerror}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _replace(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with temp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ReviewError(f"{path}: cannot write the review file: {exc.strerror}") from None
