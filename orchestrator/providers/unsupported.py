"""What every non-CometAPI adapter shares: refusing calls its provider does not offer, a fetch
per id where no batch query exists, and a free authenticated probe for `mjv doctor`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Protocol, Self

from orchestrator.client import Client
from orchestrator.errors import InvalidRequestError, TaskNotFoundError
from orchestrator.provider import OnSend, Sink
from orchestrator.wire import Task

PROBE_ID = "mjv-doctor-probe"


class _Fetches(Protocol):
    async def fetch_task(self, task_id: str) -> Task: ...


class Unsupported:
    """Base of an adapter: imagine, buttons, modal answers and uploads are refused."""

    name = ""
    http: Client

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    @property
    def account(self) -> str:
        """This key at this provider, never showing the key."""
        return self.http.account

    @property
    def base_url(self) -> str:
        """The provider's root URL."""
        return self.http.base_url

    @property
    def shown_url(self) -> str:
        """What messages may show of the root URL."""
        return self.http.shown_url

    def unsupported(self, what: str) -> InvalidRequestError:
        """The error for a call this provider does not offer (validation refuses it first)."""
        return InvalidRequestError(f"{self.name} does not offer {what}")

    async def imagine(
        self, prompt: str, *, mode: str = "fast", state: str = "", on_send: OnSend | None = None
    ) -> str:
        """Not offered through mjv on this provider."""
        raise self.unsupported("Midjourney stills (imagine)")

    async def action(
        self,
        task_id: str,
        custom_id: str,
        *,
        mode: str = "fast",
        state: str = "",
        on_send: OnSend | None = None,
    ) -> str:
        """Not offered through mjv on this provider."""
        raise self.unsupported("task buttons (upscale)")

    async def modal(
        self, task_id: str, prompt: str, *, mode: str = "fast", on_send: OnSend | None = None
    ) -> str:
        """Not offered through mjv on this provider."""
        raise self.unsupported("modal answers")

    async def upload_images(
        self, images: Sequence[tuple[bytes, str]], on_send: OnSend | None = None
    ) -> list[str]:
        """Start images are URLs only on this provider."""
        raise self.unsupported("image uploads (start images are URLs only)")

    async def list_tasks(self: _Fetches, ids: Sequence[str]) -> list[Task]:
        """No batch query is documented: one fetch per id; ids the provider does not know are
        left out."""
        found = []
        for task_id in ids:
            try:
                found.append(await self.fetch_task(task_id))
            except TaskNotFoundError:
                continue
        return found

    async def ping(self: _Fetches) -> float:
        """Seconds of one authenticated query of a task that does not exist (creates nothing):
        "not found" proves the key was accepted."""
        started = time.monotonic()
        with contextlib.suppress(TaskNotFoundError):
            await self.fetch_task(PROBE_ID)
        return time.monotonic() - started

    async def download(self, url: str, sink: Sink) -> int:
        """Stream a clip URL (without credentials) into ``sink``."""
        return await self.http.download(url, sink)

    async def aclose(self) -> None:
        """Release connections."""
        await self.http.aclose()
