"""The start and end pictures a job's base clips are compared with, as local files.

A local image is used where it is; a URL, or an imagine still (the URL its upscale gave, as the
state records it), is fetched once into the campaign's image cache. A picture that is not at
hand leaves its similarity out, and is said once per image.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from orchestrator.graph import upscale_key
from orchestrator.model import ImageSource, Job
from orchestrator.qc.images import ImageCache
from orchestrator.state import Submission
from orchestrator.wirecheck import shown

Lookup = Callable[[str], Awaitable[Submission | None]]  # a submission of the state, by key
Warn = Callable[[str], None]


@dataclass(frozen=True)
class Pictures:
    """Local files of a base clip's start and end images (None: none, or not at hand)."""

    start: Path | None = None
    end: Path | None = None


class PictureFinder:
    """Finds each job's pictures; warns once per image that cannot be had."""

    def __init__(self, images: ImageCache | None, lookup: Lookup, warn: Warn) -> None:
        self._images = images
        self._lookup = lookup
        self._warn = warn
        self._warned: set[str] = set()

    async def local(self, job: Job) -> Job:
        """``job`` with its images' ``path`` where they are at hand: a local file where it is,
        a URL's or an imagine still's kept copy, None when there is none."""
        pictures = await self.of(job)
        image = replace(job.image, path=pictures.start)
        end = job.end_image
        return replace(job, image=image, end_image=end and replace(end, path=pictures.end))

    async def of(self, job: Job) -> Pictures:
        """The pictures of ``job``'s base clips."""
        start = await self._local(job.image, "start")
        end = await self._local(job.end_image, "end") if job.end_image is not None else None
        return Pictures(start, end)

    async def _local(self, image: ImageSource, role: str) -> Path | None:
        if image.kind == "file":
            return image.path
        url = image.url if image.kind == "url" else await self._still(image)
        if url is None or self._images is None:
            return None
        fetched = await self._images.fetch(url)
        if fetched.problem is not None and url not in self._warned:
            self._warned.add(url)
            self._warn(
                f"{role} image {image.name} ({shown(url)}) is not at hand for the clip checks "
                f"({fetched.problem}): {role}_similarity is left out"
            )
        return fetched.path

    async def _still(self, image: ImageSource) -> str | None:
        """The URL of an imagine still, as its upscale recorded it."""
        upscale = await self._lookup(upscale_key(image))
        return upscale.image_url if upscale is not None else None
