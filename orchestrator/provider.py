"""The provider as the engine sees it: a small protocol the HTTP client and test fakes implement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from orchestrator.wire import ExtendRequest, Task, VideoRequest

OnSend = Callable[[], Awaitable[None] | None]
"""Called (and awaited, when it is async) once, immediately before a submit's request is
written: it commits the intent."""
Sink = Callable[[bytes], None]


class Provider(Protocol):
    """Every call a run makes to the provider; submits take ``on_send`` and mode by path."""

    async def create_video(self, req: VideoRequest, on_send: OnSend | None = None) -> str:
        """Submit a video job; return its task id."""

    async def extend_video(self, req: ExtendRequest, on_send: OnSend | None = None) -> str:
        """Submit an extension of one clip of a finished video task; return the new task id."""

    async def imagine(
        self, prompt: str, *, mode: str = "fast", state: str = "", on_send: OnSend | None = None
    ) -> str:
        """Submit an imagine (2x2 grid) job; return its task id."""

    async def action(
        self,
        task_id: str,
        custom_id: str,
        *,
        mode: str = "fast",
        state: str = "",
        on_send: OnSend | None = None,
    ) -> str:
        """Press a task's button (e.g. an upsample); return the new task id."""

    async def modal(
        self, task_id: str, prompt: str, *, mode: str = "fast", on_send: OnSend | None = None
    ) -> str:
        """Answer a task waiting in status MODAL; return the task id."""

    async def upload_images(
        self, images: Sequence[tuple[bytes, str]], on_send: OnSend | None = None
    ) -> list[str]:
        """Upload local images; return their public URLs, in order."""

    async def fetch_task(self, task_id: str) -> Task:
        """Fetch one task object."""

    async def list_tasks(self, ids: Sequence[str]) -> list[Task]:
        """Fetch many tasks in one call; unknown ids are left out."""

    async def download(self, url: str, sink: Sink) -> int:
        """Stream ``url`` (without credentials) into ``sink``; return the byte count."""

    async def aclose(self) -> None:
        """Release connections."""
