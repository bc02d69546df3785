"""The ``images`` section: URLs, Midjourney stills, and local files confined to the campaign."""

from __future__ import annotations

import difflib
import glob
import hashlib
import itertools
import os
import stat
from pathlib import Path
from typing import Any

from orchestrator.model import ImageSource
from orchestrator.spec.paths import Confinement, glob_problem, path_text_problem
from orchestrator.spec.problems import JsonPath
from orchestrator.spec.yamlsource import Document

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # well above any start frame the provider accepts
MAX_GLOB_MATCHES = 10_000
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"))

ImageTable = dict[str, tuple[ImageSource, ...]]


def resolve_images(doc: Document, place: Confinement) -> ImageTable:
    """Turn ``images`` into sources; a glob gives its name and one ``name/stem`` per file."""
    table: ImageTable = {}
    for name, entry in doc.data.get("images", {}).items():
        path: JsonPath = ("images", name)
        if "url" in entry:
            table[name] = (ImageSource(name, "url", url=entry["url"]),)
        elif "imagine" in entry:
            table[name] = (_imagine_source(name, entry),)
        elif "file" in entry:
            source = _file_image(doc, (*path, "file"), place, name, entry["file"])
            table[name] = (source,) if source else ()
        else:
            table.update(_glob_images(doc, (*path, "glob"), place, name, entry["glob"]))
    return table


def _imagine_source(name: str, entry: dict[str, Any]) -> ImageSource:
    prompt, pick, mode = entry["imagine"], entry.get("pick", 1), entry.get("mode", "fast")
    return ImageSource(name, "imagine", imagine=prompt, pick=pick, mode=mode)


def _file_image(
    doc: Document, path: JsonPath, place: Confinement, name: str, text: str
) -> ImageSource | None:
    problem = path_text_problem(text)
    if problem is not None:
        doc.problem(path, f"image file {text!r} {problem}")
        return None
    return _local_image(doc, path, place, place.spec_dir / text, name, text)


def _glob_images(
    doc: Document, path: JsonPath, place: Confinement, name: str, pattern: str
) -> ImageTable:
    problem = glob_problem(pattern)
    if problem is not None:
        doc.problem(path, f"glob {pattern!r} {problem}")
        return {name: ()}
    found = _glob(place.spec_dir, pattern)
    if len(found) > MAX_GLOB_MATCHES:
        doc.problem(path, f"glob {pattern!r} matches over {MAX_GLOB_MATCHES} files; narrow it")
        return {name: ()}
    files = [p for p in found if p.is_file()]
    if not files:
        doc.problem(path, f"glob {pattern!r} matches no file")
        return {name: ()}
    table: ImageTable = {}
    for file in files:
        shown = str(file.relative_to(place.spec_dir))
        source = _local_image(doc, path, place, file, f"{name}/{file.stem}", shown)
        if source is not None and source.name in table:
            doc.problem(path, f"two files make the image name {source.name!r}; rename one")
        elif source is not None:
            table[source.name] = (source,)
    table[name] = tuple(source for (source,) in table.values())
    return table


def _glob(spec_dir: Path, pattern: str) -> list[Path]:
    """At most MAX_GLOB_MATCHES + 1 matches, sorted; root_dir keeps the folder name literal."""
    try:
        matches = glob.iglob(pattern, root_dir=spec_dir, recursive=True)
        return sorted(spec_dir / p for p in itertools.islice(matches, MAX_GLOB_MATCHES + 1))
    except (OSError, ValueError):
        return []


def _local_image(
    doc: Document, path: JsonPath, place: Confinement, file: Path, name: str, shown: str
) -> ImageSource | None:
    if not place.contains(file):
        doc.problem(path, f"image file {shown} is outside {place.describe()}")
        return None
    data = _read_image(doc, path, file, shown)
    if data is None:
        return None
    if image_format(data) is None:
        doc.problem(path, f"{shown} is not a PNG, JPEG or WebP image")
        return None
    digest = hashlib.sha256(data).hexdigest()
    return ImageSource(name, "file", path=file.resolve(), sha256=digest)


def _read_image(doc: Document, path: JsonPath, file: Path, shown: str) -> bytes | None:
    """The bytes of a regular file of at most MAX_IMAGE_BYTES (checked before opening it)."""
    try:
        info = file.resolve().stat()
        if not stat.S_ISREG(info.st_mode):
            doc.problem(path, f"image file {shown} is not a regular file")
            return None
        if info.st_size > MAX_IMAGE_BYTES:
            limit = MAX_IMAGE_BYTES // (1024 * 1024)
            doc.problem(path, f"image file {shown} is larger than {limit} MB")
            return None
        return file.resolve().read_bytes()
    except FileNotFoundError:
        doc.problem(path, f"image file not found: {shown}{_nearby(file, shown)}")
    except (OSError, RuntimeError) as exc:
        doc.problem(path, f"cannot read image file {shown}: {getattr(exc, 'strerror', exc)}")
    return None


def _nearby(file: Path, shown: str) -> str:
    """`` (did you mean 'assets/x.png'?)`` from the file names beside the missing one."""
    try:
        names = sorted(os.listdir(file.parent))[:1000]
    except (OSError, ValueError):
        return ""
    stems = {Path(name).stem: name for name in reversed(names)}  # compare stems: '.png' matches all
    close = difflib.get_close_matches(file.stem, list(stems), n=1, cutoff=0.6)
    prefix = shown[: len(shown) - len(file.name)]
    return f" (did you mean {prefix + stems[close[0]]!r}?)" if close else ""


def image_format(data: bytes) -> str | None:
    """Return "PNG", "JPEG" or "WebP" from the magic bytes of ``data``, else None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return "WebP" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None
