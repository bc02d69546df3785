"""Start frames to public URLs: URLs as they are, files uploaded while fresh, stills made once."""

from __future__ import annotations

import asyncio

from orchestrator.engine.context import Runtime
from orchestrator.engine.submission import JobFailedError, Order, Submitter
from orchestrator.errors import InvalidRequestError
from orchestrator.graph import imagine_key, upload_key, upscale_key
from orchestrator.model import Campaign, ImageSource, fingerprint
from orchestrator.provider import OnSend
from orchestrator.uploads import is_fresh
from orchestrator.wirecheck import shown, url_problem

_MIME = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"))


def mime_type(content: bytes) -> str:
    """MIME type of an image by its magic bytes (the spec loader already refused others)."""
    for magic, mime in _MIME:
        if content.startswith(magic):
            return mime
    return "application/octet-stream"


class Sources:
    """Resolves each distinct image once per run, however many jobs use it."""

    def __init__(self, rt: Runtime, submitter: Submitter, campaign: Campaign) -> None:
        self._rt = rt
        self._submitter = submitter
        self._campaign = campaign
        self._pending: dict[str, asyncio.Future[str]] = {}
        self._dead: set[str] = set()  # uploads whose URL a task could not fetch

    async def url(self, image: ImageSource) -> str:
        """Return a public URL for ``image``."""
        if image.kind == "url":
            assert image.url is not None
            return image.url
        name = fingerprint(image.identity())
        if name not in self._pending:
            self._pending[name] = asyncio.ensure_future(self._resolve(image))
        return await asyncio.shield(self._pending[name])

    def forget(self, *images: ImageSource) -> None:
        """The provider could not fetch these uploaded images: the next use uploads them again."""
        for image in images:
            if image.kind == "file" and image.sha256 is not None:
                self._pending.pop(fingerprint(image.identity()), None)
                self._dead.add(image.sha256)
                self._rt.store.post(self._rt.store.sync.forget_upload, image.sha256)

    async def _resolve(self, image: ImageSource) -> str:
        if image.kind == "file":
            return await self._upload(image)
        return await self._imagine(image)

    async def _upload(self, image: ImageSource) -> str:
        assert image.sha256 is not None and image.path is not None
        cached = await self._rt.store.upload(image.sha256)
        fresh = cached is not None and is_fresh(cached, self._rt.wall())
        if cached is not None and fresh and image.sha256 not in self._dead:
            return cached.url
        content = image.path.read_bytes()
        client, sha = self._rt.client, image.sha256

        async def send(_state: str, on_send: OnSend) -> str:
            (url,) = await client.upload_images([(content, mime_type(content))], on_send)
            return url

        url = await self._submitter.submit_once(
            Order(
                key=upload_key(image),
                what=f"image {image.name} (upload)",
                price=self._campaign.price_of("upload"),
                send=send,
            )
        )
        await self._rt.store.record_upload(sha, url)
        self._dead.discard(sha)
        return url

    async def _imagine(self, image: ImageSource) -> str:
        assert image.imagine is not None
        client, prompt, mode = self._rt.client, image.imagine, image.mode

        async def imagine(state: str, on_send: OnSend) -> str:
            return await client.imagine(prompt, mode=mode, state=state, on_send=on_send)

        grid = await self._submitter.ensure(
            Order(
                key=imagine_key(image),
                what=f"image {image.name} (imagine)",
                price=self._campaign.price_of("imagine"),
                send=imagine,
                mode=mode,
            )
        )
        grid_task = grid.task_id or ""

        async def upsample(state: str, on_send: OnSend) -> str:
            return await self._upsample(grid_task, image, state, on_send)

        upscaled = await self._submitter.ensure(
            Order(
                key=upscale_key(image),
                what=f"image {image.name} (upscale {image.pick})",
                price=self._campaign.price_of("upscale"),
                send=upsample,
                mode=mode,
            )
        )
        if not upscaled.image_url:
            raise JobFailedError(f"image {image.name}: the upscale gave no image URL", True)
        problem = url_problem(upscaled.image_url)  # it becomes the start frame we send
        if problem is not None:
            refused = f"refused URL {shown(upscaled.image_url)} ({problem})"
            raise JobFailedError(f"image {image.name}: the upscale gave a {refused}", True)
        return upscaled.image_url

    async def _upsample(
        self, grid_task: str, image: ImageSource, state: str, on_send: OnSend
    ) -> str:
        # The button's custom id carries a hash only the finished grid task knows.
        task = await self._rt.client.fetch_task(grid_task)
        prefix = f"MJ::JOB::upsample::{image.pick or 1}::"
        custom = next((b for b in task.buttons if b.startswith(prefix)), None)
        if custom is None:
            raise InvalidRequestError(f"imagine task {grid_task} has no button U{image.pick}")
        return await self._rt.client.action(
            grid_task, custom, mode=image.mode, state=state, on_send=on_send
        )
