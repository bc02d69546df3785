"""Start and end images the clip checks compare with, fetched once per campaign and kept.

A job that starts from a URL (or from an imagine still, whose URL the provider gave) has no
local file to compare its first frame with. The picture is fetched once, through the
provider's bounded download (URL checks on every redirect hop, its deadline), under a cap of
its own, and kept in ``<output>/.mjv-cache/images/``: later checks, reruns and ``mjv qc`` read
it from there. A fetch that fails leaves the similarity out (never zero) and is said once; a
refusal (a bad URL, an HTTP error, too large, not an image) is kept too, so it is not asked
again, while a timeout or a lost connection may be tried again by a later run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.atomic import replace_file
from orchestrator.errors import MjvError, ServerError
from orchestrator.wirecheck import MB, shown, url_problem

CACHE_DIR = ".mjv-cache/images"  # under the campaign's output folder
MAX_IMAGE_BYTES = 32 * MB  # Midjourney's stills are 1-8 MB; a start image is no clip
FETCH_SECONDS = 60.0
_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8")  # and WebP: RIFF....WEBP

Sink = Callable[[bytes], None]
Download = Callable[[str, Sink], Awaitable[int]]


class _RefusedImageError(Exception):
    """A URL refused before asking, or a body past the image cap (raised from the sink, which
    stops the download)."""


@dataclass(frozen=True)
class Fetched:
    """Where an image is kept on disk, or why it is not."""

    path: Path | None
    problem: str | None = None


class ImageCache:
    """The campaign's fetched images: each URL asked for at most once, concurrent asks shared."""

    def __init__(
        self,
        output_dir: Path,
        download: Download | None,
        *,
        max_bytes: int = MAX_IMAGE_BYTES,
        seconds: float = FETCH_SECONDS,
    ) -> None:
        self.folder = output_dir / CACHE_DIR
        self._download = download  # None: only what earlier runs kept (mjv qc)
        self._max_bytes, self._seconds = max_bytes, seconds
        self._pending: dict[str, asyncio.Future[Fetched]] = {}

    def paths(self, url: str) -> tuple[Path, Path]:
        """The image file of ``url`` and the note of why it could not be fetched."""
        name = hashlib.sha256(url.encode()).hexdigest()[:32]
        return self.folder / f"{name}.img", self.folder / f"{name}.refused"

    async def fetch(self, url: str) -> Fetched:
        """The kept file of ``url``, fetched first if no run has yet (never raises)."""
        if url not in self._pending:
            self._pending[url] = asyncio.ensure_future(self._fetch(url))
        return await asyncio.shield(self._pending[url])

    async def _fetch(self, url: str) -> Fetched:
        image, refused = self.paths(url)
        known = await asyncio.to_thread(_known, image, refused)
        if known is not None:
            return known
        if self._download is None:
            return Fetched(None, "not fetched by a run yet")
        try:
            data = await self._get(url)
        except ServerError as exc:  # a timeout or a lost connection: a later run may try again
            return Fetched(None, str(exc))
        except (MjvError, _RefusedImageError) as exc:
            return await asyncio.to_thread(_refuse, refused, str(exc))
        except Exception as exc:  # a picture to compare with never fails a job or the run
            return Fetched(None, f"{type(exc).__name__} while fetching")
        if not data.startswith(_MAGIC) and not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            return await asyncio.to_thread(_refuse, refused, "not a PNG, JPEG, WebP or GIF")
        return await asyncio.to_thread(_keep, image, data)

    async def _get(self, url: str) -> bytes:
        problem = url_problem(url)
        if problem is not None:
            raise _RefusedImageError(f"refused URL {shown(url)} ({problem})")
        assert self._download is not None
        chunks: list[bytes] = []
        size = 0

        def sink(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)
            if size > self._max_bytes:
                raise _RefusedImageError(f"larger than {self._max_bytes / MB:g} MB")
            chunks.append(chunk)

        try:
            async with asyncio.timeout(self._seconds):
                await self._download(url, sink)
        except TimeoutError:
            raise ServerError(f"not fetched within {self._seconds:g} s") from None
        return b"".join(chunks)


def _known(image: Path, refused: Path) -> Fetched | None:
    if image.is_file():
        return Fetched(image)
    try:
        return Fetched(None, refused.read_text(encoding="utf-8").strip() or "refused")
    except OSError:
        return None


def _refuse(refused: Path, problem: str) -> Fetched:
    with contextlib.suppress(OSError):  # not kept: a later run asks again
        replace_file(refused, [problem.encode("utf-8")])
    return Fetched(None, problem)


def _keep(image: Path, data: bytes) -> Fetched:
    try:
        replace_file(image, [data])
    except OSError as exc:
        return Fetched(None, f"cannot be kept in {image.parent}: {exc.strerror or exc}")
    return Fetched(image)
