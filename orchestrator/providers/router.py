"""Several providers behind the one Provider protocol: each call goes where its job (or its
parent task) belongs.

A task id made on a provider other than CometAPI is kept as ``<provider>:<id>``, so the state
records with every submission which provider holds it: polling after a restart, and an
extension, always go to the provider (and the task) of the submission they follow. CometAPI's
ids stay bare, as every state written before there were other providers has them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from orchestrator.errors import ConfigError
from orchestrator.provider import OnSend, Provider, Sink
from orchestrator.providers import DEFAULT_PROVIDER, PROVIDER_NAMES
from orchestrator.wire import ExtendRequest, Task, VideoRequest


class Account(Provider, Protocol):
    """A provider client that names its account (this key at this provider)."""

    @property
    def account(self) -> str: ...


def qualify(provider: str, task_id: str) -> str:
    """The task id as the state keeps it."""
    return task_id if provider == DEFAULT_PROVIDER else f"{provider}:{task_id}"


def split_id(task_id: str) -> tuple[str, str]:
    """(provider, the provider's own id) of a kept task id."""
    head, sep, rest = task_id.partition(":")
    if sep and head in PROVIDER_NAMES and head != DEFAULT_PROVIDER:
        return head, rest
    return DEFAULT_PROVIDER, task_id


class Router:
    """Dispatches to one client per provider; a provider without a client is a ConfigError."""

    def __init__(self, clients: Mapping[str, Account]) -> None:
        self._clients = dict(clients)

    @property
    def account(self) -> str:
        """One name for the accounts in use (runners sharing all of them share slots)."""
        if len(self._clients) == 1:
            return next(iter(self._clients.values())).account
        names = ",".join(f"{p}={c.account}" for p, c in sorted(self._clients.items()))
        return "acct-" + hashlib.sha256(names.encode()).hexdigest()[:16]

    def client(self, provider: str) -> Account:
        """The client of ``provider``."""
        try:
            return self._clients[provider]
        except KeyError:
            raise ConfigError(f"no client for provider {provider!r} in this run") from None

    async def create_video(self, req: VideoRequest, on_send: OnSend | None = None) -> str:
        """Submit to the job's provider."""
        task_id = await self.client(req.provider).create_video(req, on_send)
        return qualify(req.provider, task_id)

    async def extend_video(self, req: ExtendRequest, on_send: OnSend | None = None) -> str:
        """Submit to the provider of the parent task, naming the parent by its own id."""
        provider, parent = split_id(req.task_id)
        task_id = await self.client(provider).extend_video(replace(req, task_id=parent), on_send)
        return qualify(provider, task_id)

    async def imagine(
        self, prompt: str, *, mode: str = "fast", state: str = "", on_send: OnSend | None = None
    ) -> str:
        """Stills are made on CometAPI (validation refuses them elsewhere)."""
        return await self.client(DEFAULT_PROVIDER).imagine(
            prompt, mode=mode, state=state, on_send=on_send
        )

    async def action(
        self,
        task_id: str,
        custom_id: str,
        *,
        mode: str = "fast",
        state: str = "",
        on_send: OnSend | None = None,
    ) -> str:
        """Press a button of a task on its provider."""
        provider, own = split_id(task_id)
        new = await self.client(provider).action(
            own, custom_id, mode=mode, state=state, on_send=on_send
        )
        return qualify(provider, new)

    async def modal(
        self, task_id: str, prompt: str, *, mode: str = "fast", on_send: OnSend | None = None
    ) -> str:
        """Answer a MODAL task on its provider."""
        provider, own = split_id(task_id)
        new = await self.client(provider).modal(own, prompt, mode=mode, on_send=on_send)
        return qualify(provider, new)

    async def upload_images(
        self, images: Sequence[tuple[bytes, str]], on_send: OnSend | None = None
    ) -> list[str]:
        """Uploads go to CometAPI (validation refuses local files elsewhere)."""
        return await self.client(DEFAULT_PROVIDER).upload_images(images, on_send)

    async def fetch_task(self, task_id: str) -> Task:
        """Fetch a task from its provider."""
        provider, own = split_id(task_id)
        task = await self.client(provider).fetch_task(own)
        return replace(task, id=qualify(provider, task.id))

    async def list_tasks(self, ids: Sequence[str]) -> list[Task]:
        """Fetch many tasks, one list call per provider."""
        groups: dict[str, list[str]] = {}
        for task_id in ids:
            provider, own = split_id(task_id)
            groups.setdefault(provider, []).append(own)
        found: list[Task] = []
        for provider, own_ids in groups.items():
            tasks = await self.client(provider).list_tasks(own_ids)
            found += [replace(t, id=qualify(provider, t.id)) for t in tasks]
        return found

    async def download(self, url: str, sink: Sink) -> int:
        """Clip URLs need no credentials: any client's download pool does."""
        return await next(iter(self._clients.values())).download(url, sink)

    async def aclose(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            await client.aclose()
