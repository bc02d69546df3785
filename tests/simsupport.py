"""Raw-HTTP helpers for the simulator tests: the wire as API.md writes it, no client in between."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from orchestrator.simulator import Simulator, SimulatorConfig

IMAGE = "https://cdn.example/a.png"
PNG_URI = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Wire:
    """Talks to one running simulator over HTTP, as a gateway client would."""

    def __init__(self, sim: Simulator, http: httpx.Client) -> None:
        self.sim = sim
        self.http = http
        self.auth = {"Authorization": f"Bearer {sim.config.api_key}"}

    def post(
        self, route: str, body: dict[str, Any], mode: str = "", key: str = ""
    ) -> httpx.Response:
        """POST /mj[-mode]/mj/<route> with the key and an optional Idempotency-Key."""
        prefix = f"/mj-{mode}" if mode else ""
        headers = {**self.auth, **({"Idempotency-Key": key} if key else {})}
        return self.http.post(f"{self.sim.base_url}{prefix}/mj/{route}", json=body, headers=headers)

    def create(self, prefix: str = "", key: str = "", **fields: Any) -> httpx.Response:
        """A video create under ``/mj-<prefix>``; ``fields`` override a valid SD body."""
        body = {"prompt": f"{IMAGE} slow orbit", "image": IMAGE, "motion": "low", **fields}
        clean = {k: v for k, v in body.items() if v is not None}
        return self.post("submit/video", clean, prefix, key)

    def extend(self, parent: str, index: int = 0, **fields: Any) -> httpx.Response:
        """A video extend of clip ``index`` of ``parent``."""
        body = {"action": "extend", "taskId": parent, "index": index, "prompt": "more", **fields}
        return self.post("submit/video", {k: v for k, v in body.items() if v is not None})

    def task_id(self, response: httpx.Response) -> str:
        """The task id of an accepted envelope (fails the test otherwise)."""
        payload = response.json()
        assert response.status_code == 200 and payload["code"] in (1, 21, 22), payload
        return str(payload["result"])

    def fetch(self, task_id: str) -> dict[str, Any]:
        """GET /mj/task/<id>/fetch, which must answer 200."""
        response = self.http.get(f"{self.sim.base_url}/mj/task/{task_id}/fetch", headers=self.auth)
        assert response.status_code == 200, response.text
        payload: dict[str, Any] = response.json()
        return payload

    def download(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET a media URL without the key (as every download must be)."""
        return self.http.get(url, headers=headers or BROWSER)


@contextmanager
def wire(clock: FakeClock | None = None, **options: Any) -> Iterator[Wire]:
    """A started simulator (fake clock, 10 s jobs unless told) and a Wire to it."""
    config = SimulatorConfig(**{"job_seconds": 10.0, "slots": 2, **options})
    with Simulator(config, clock=clock or FakeClock()) as sim, httpx.Client() as http:
        yield Wire(sim, http)
