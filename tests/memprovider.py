"""An in-memory provider: the simulator's request handling called directly, on the test's clock.

It implements the engine's ``Provider`` protocol with no socket and no sleep: requests are
built and answers read by the same wire functions the HTTP client uses, so the engine meets the
same codes and texts as over HTTP, and time moves only when the test's clock says so.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchestrator.engine.context import RunConfig, RunReport, Runtime
from orchestrator.engine.progress import make_progress
from orchestrator.engine.runner import run_campaign
from orchestrator.errors import DownloadError, ServerError, SubmitOutcomeUnknownError
from orchestrator.provider import OnSend, Sink
from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.provider import FakeProvider
from orchestrator.spec import load_campaign
from orchestrator.state import open_store
from orchestrator.wire import (
    HD_VIDEO,
    ExtendRequest,
    Task,
    VideoRequest,
    envelope_result,
    extend_body,
    http_error,
    parse_task,
    submit_path,
    video_body,
)

BASE = "http://memory.invalid"


class Clock:
    """Time that passes only when the engine sleeps (``sleep``) or a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)  # let the other tasks run at this instant


class MemoryProvider:
    """The ``Provider`` protocol on a ``FakeProvider``; ``sent`` lists every call's path."""

    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self.fake = FakeProvider(replace(config, slow=0.0), clock)
        self.fake.base_url = BASE
        self.sent: list[str] = []
        self._headers = {"authorization": f"Bearer {config.api_key}", "user-agent": "Mozilla/5.0"}

    async def create_video(self, req: VideoRequest, on_send: OnSend | None = None) -> str:
        path, hd = submit_path("video", req.settings.mode), req.settings.video_type == HD_VIDEO
        return _one(await self._submit(path, video_body(req), req.state, on_send, hd))

    async def extend_video(self, req: ExtendRequest, on_send: OnSend | None = None) -> str:
        return _one(
            await self._submit(submit_path("video", req.mode), extend_body(req), req.state, on_send)
        )

    async def imagine(
        self, prompt: str, *, mode: str = "fast", state: str = "", on_send: OnSend | None = None
    ) -> str:
        body = {"prompt": prompt, "state": state}
        return _one(await self._submit(submit_path("imagine", mode), body, state, on_send))

    async def action(
        self,
        task_id: str,
        custom_id: str,
        *,
        mode: str = "fast",
        state: str = "",
        on_send: OnSend | None = None,
    ) -> str:
        body = {"taskId": task_id, "customId": custom_id, "state": state}
        return _one(await self._submit(submit_path("action", mode), body, state, on_send))

    async def modal(
        self, task_id: str, prompt: str, *, mode: str = "fast", on_send: OnSend | None = None
    ) -> str:
        body = {"taskId": task_id, "prompt": prompt}
        return _one(await self._submit(submit_path("modal", mode), body, "", on_send))

    async def upload_images(
        self, images: Sequence[tuple[bytes, str]], on_send: OnSend | None = None
    ) -> list[str]:
        uris = [f"data:{mime};base64,{base64.b64encode(data).decode()}" for data, mime in images]
        result = await self._submit(
            "/mj/submit/upload-discord-images", {"base64Array": uris}, "", on_send
        )
        return result if isinstance(result, list) else [result]

    async def fetch_task(self, task_id: str) -> Task:
        return parse_task(await self._call("GET", f"/mj/task/{task_id}/fetch"))

    async def list_tasks(self, ids: Sequence[str]) -> list[Task]:
        if not ids:
            return []
        body = await self._call("POST", "/mj/task/list-by-condition", {"ids": list(ids)})
        return [parse_task(item) for item in body]

    async def download(self, url: str, sink: Sink) -> int:
        reply = self.fake.handle("GET", url.removeprefix(BASE), self._headers, b"")
        if reply.status in (403, 404, 410):  # as the HTTP client says it
            raise DownloadError(
                f"{url} no longer answers (HTTP {reply.status}): "
                "expired at the provider, or removed"
            )
        if reply.status >= 400:
            raise DownloadError(f"download of {url} failed: HTTP {reply.status}")
        sink(reply.body)
        return len(reply.body)

    async def aclose(self) -> None:
        """Nothing to close."""

    async def _submit(
        self, path: str, body: dict[str, Any], state: str, on_send: OnSend | None, hd: bool = False
    ) -> Any:
        headers = {"idempotency-key": state} if state else {}
        return envelope_result(await self._call("POST", path, body, headers, on_send), hd=hd)

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        on_send: OnSend | None = None,
    ) -> Any:
        if on_send is not None:
            pending = on_send()  # the request leaves now
            if pending is not None:
                await pending
        self.sent.append(path)
        raw = json.dumps(body).encode() if body is not None else b""
        reply = self.fake.handle(method, path, {**self._headers, **(headers or {})}, raw)
        if reply.release:
            self.fake.release(reply.release)
        if reply.drop:
            raise SubmitOutcomeUnknownError(f"{method} {path}: connection dropped")
        payload = json.loads(reply.body) if reply.body.strip() else None
        if reply.status != 200:
            raise http_error(
                reply.status, payload, reply.headers.get("Retry-After"), on_send is not None
            )
        if payload is None:
            raise ServerError(f"{method} {path}: empty answer")
        return payload


def _one(result: str | list[str]) -> str:
    return result[0] if isinstance(result, list) else result


def memory_run(
    spec: Path, provider: MemoryProvider, clock: Clock, config: RunConfig, state: Path | None = None
) -> RunReport:
    """Run the campaign of ``spec`` on ``provider`` in ``clock``'s time (state beside the spec)."""
    campaign = load_campaign(spec)

    async def go() -> RunReport:
        where = state or spec.parent / ".mjv/state.db"
        where.parent.mkdir(parents=True, exist_ok=True)
        with open_store(where, campaign.name, clock=clock) as store:
            progress = make_progress(io.StringIO(), quiet=True, json_log=False)
            runtime = Runtime(
                provider,  # type: ignore[arg-type]
                store,
                progress,
                campaign.output_dir,
                clock=clock,
                wall=clock,
                sleep=clock.sleep,
            )
            return await run_campaign(campaign, runtime, config, free_space=lambda _: 1 << 40)

    return asyncio.run(go())
