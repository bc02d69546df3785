"""What each step of a job sends: its order (key, price, the request) for the submitter.

The base clip starts from the job's images (uploaded, or a still made first, by
``engine.sources``); an extension builds on its parent's task, with its own prompt or, for
Extend Auto, the one before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from orchestrator.client import ExtendRequest, VideoRequest
from orchestrator.engine.context import Runtime
from orchestrator.engine.sources import Sources
from orchestrator.engine.submission import Order
from orchestrator.model import Campaign, Job
from orchestrator.provider import OnSend
from orchestrator.state import Status
from orchestrator.wire import HD_VIDEO, wire_prompt


class Orders:
    """Builds the orders of a run's jobs; ``on_started`` marks a job as under way."""

    def __init__(
        self,
        rt: Runtime,
        campaign: Campaign,
        sources: Sources,
        on_started: Callable[[Job], None],
    ) -> None:
        self._rt = rt
        self._campaign = campaign
        self._sources = sources
        self._on_started = on_started

    async def base(self, job: Job) -> Order:
        """The order of the job's base clip; its start frames resolved first when it is still
        to be sent."""
        sub = await self._rt.store.get(job.fingerprint)
        if sub is None or sub.status in (Status.PENDING, Status.SUBMITTING, Status.FAILED):
            # Resolved before a slot is taken (uploads and stills overlap with other jobs);
            # `send` asks again, which is instant unless the upload had to be renewed.
            if _makes_a_still(job):  # an imagine task at the provider: the job is under way
                self._on_started(job)
            await self._start_frames(job)
        images = (job.image, job.end_image) if job.end_image else (job.image,)
        return Order(
            key=job.fingerprint,
            what=f"job {job.name}",
            price=self._campaign.job_price("video", job),
            send=self._video_sender(job),
            mode=job.settings.mode,
            hd=job.settings.video_type == HD_VIDEO,
            modal_prompt=job.prompt or "",
            modal_price=self._campaign.price_of("modal"),
            on_dead_frame=lambda: self._sources.forget(*images),
            saved=True,
        )

    async def _start_frames(self, job: Job) -> tuple[str, str | None]:
        image = await self._sources.url(job.image)
        end = await self._sources.url(job.end_image) if job.end_image else None
        return image, end

    def _video_sender(self, job: Job) -> Callable[[str, OnSend], Awaitable[str]]:
        async def send(state: str, on_send: OnSend) -> str:
            self._on_started(job)
            image, end = await self._start_frames(job)
            request = VideoRequest(image, job.prompt, job.settings, end, state, job.provider)
            return await self._rt.client.create_video(request, on_send)

        return send

    def extension(self, job: Job, step: int, parent_task: str) -> Order:
        """The order of extension ``step`` of the job, building on ``parent_task``."""
        ext = job.extensions[step - 1]

        async def send(state: str, on_send: OnSend) -> str:
            prompt = await self._extension_prompt(job, step)
            request = ExtendRequest(
                parent_task,
                ext.index,
                ext.motion,
                prompt,
                job.settings.batch_size,
                job.settings.mode,
                state,
                auto=ext.prompt is None,
            )
            return await self._rt.client.extend_video(request, on_send)

        return Order(
            key=ext.fingerprint,
            what=f"job {job.name}, extension {ext.step}",
            price=self._campaign.job_price("extend", job),
            send=send,
            mode=job.settings.mode,
            modal_prompt=ext.prompt or job.prompt or "",
            modal_price=self._campaign.price_of("modal"),
            saved=True,
        )

    async def _extension_prompt(self, job: Job, step: int) -> str:
        """The step's own text, else (Extend Auto) the previous step's prompt, back to the base."""
        for ext in reversed(job.extensions[:step]):
            if ext.prompt:
                return ext.prompt
        if job.prompt and job.settings.animate != "auto":
            return job.prompt
        image, _ = await self._start_frames(job)  # an automatic animation's base: the image URL
        return wire_prompt(image, job.prompt, job.settings)


def _makes_a_still(job: Job) -> bool:
    images = (job.image, job.end_image) if job.end_image else (job.image,)
    return any(image.kind == "imagine" for image in images)
