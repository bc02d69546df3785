"""Start frames to public URLs: URLs as they are, files uploaded once, imagine chains run once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from orchestrator.engine.context import Pacing, Runtime
from orchestrator.engine.submission import JobFailedError, Order, Submitter
from orchestrator.errors import InvalidRequestError, ProviderError
from orchestrator.model import ImageSource, fingerprint
from orchestrator.state import SubmissionSpec

_MIME = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"))


def imagine_key(image: ImageSource) -> str:
    """Key of the imagine (grid) submission behind an ``imagine:`` source."""
    return fingerprint({"imagine": image.imagine})


def upscale_key(image: ImageSource) -> str:
    """Key of the upsample submission that picks one picture of the grid."""
    return fingerprint({"upscale": imagine_key(image), "pick": image.pick})


def source_specs(images: Iterable[ImageSource]) -> list[SubmissionSpec]:
    """Submissions that ``imagine:`` sources need, one chain per distinct prompt and pick."""
    specs: dict[str, SubmissionSpec] = {}
    for image in images:
        if image.kind != "imagine":
            continue
        grid = imagine_key(image)
        specs[grid] = SubmissionSpec(grid, image.name, "imagine", 0, None)
        up = upscale_key(image)
        specs[up] = SubmissionSpec(up, image.name, "upscale", 0, grid)
    return list(specs.values())


def mime_type(content: bytes) -> str:
    """MIME type of an image by its magic bytes (the spec loader already refused others)."""
    for magic, mime in _MIME:
        if content.startswith(magic):
            return mime
    return "application/octet-stream"


class Sources:
    """Resolves each distinct image once per run, however many jobs use it."""

    def __init__(
        self, rt: Runtime, pacing: Pacing, submitter: Submitter, imagine_price: float | None
    ) -> None:
        self._rt = rt
        self._pacing = pacing
        self._submitter = submitter
        self._imagine_price = imagine_price
        self._pending: dict[str, asyncio.Future[str]] = {}

    async def url(self, image: ImageSource) -> str:
        """Return a public URL for ``image``."""
        if image.kind == "url":
            assert image.url is not None
            return image.url
        name = fingerprint(image.identity())
        if name not in self._pending:
            self._pending[name] = asyncio.ensure_future(self._resolve(image))
        return await asyncio.shield(self._pending[name])

    async def _resolve(self, image: ImageSource) -> str:
        if image.kind == "file":
            return await self._upload(image)
        return await self._imagine(image)

    async def _upload(self, image: ImageSource) -> str:
        assert image.sha256 is not None and image.path is not None
        cached = self._rt.store.upload_url(image.sha256)
        if cached is not None:
            return cached
        content = image.path.read_bytes()
        tries = 0
        while True:
            await self._pacing.bucket.acquire()
            try:
                (url,) = await self._rt.client.upload_images([(content, mime_type(content))])
            except ProviderError as exc:
                tries += 1
                delay = self._pacing.policy.delay(exc, tries, self._rt.rng)
                if delay is None:
                    raise JobFailedError(f"upload of image {image.name}: {exc}", True) from exc
                await self._rt.sleep(delay)
                continue
            self._rt.store.record_upload(image.sha256, url)
            return url

    async def _imagine(self, image: ImageSource) -> str:
        assert image.imagine is not None
        client, prompt = self._rt.client, image.imagine
        grid = await self._submitter.ensure(
            Order(
                key=imagine_key(image),
                what=f"image {image.name} (imagine)",
                price=self._imagine_price,
                send=lambda state: client.imagine(prompt, state=state),
            )
        )
        assert grid.task_id is not None
        upscaled = await self._submitter.ensure(
            Order(
                key=upscale_key(image),
                what=f"image {image.name} (upscale {image.pick})",
                price=self._imagine_price,
                send=lambda state: self._upsample(grid.task_id or "", image.pick or 1, state),
            )
        )
        if not upscaled.image_url:
            raise JobFailedError(f"image {image.name}: the upscale gave no image URL", True)
        return upscaled.image_url

    async def _upsample(self, grid_task: str, pick: int, state: str) -> str:
        # The button's custom id carries a hash only the finished grid task knows.
        task = await self._rt.client.fetch_task(grid_task)
        prefix = f"MJ::JOB::upsample::{pick}::"
        custom = next((b for b in task.buttons if b.startswith(prefix)), None)
        if custom is None:
            raise InvalidRequestError(f"imagine task {grid_task} has no button U{pick}")
        return await self._rt.client.action(grid_task, custom, state=state)
