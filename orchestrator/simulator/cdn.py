"""Downloads without a key: clips, the gateway's image proxy and uploaded attachments."""

from __future__ import annotations

import re
from collections.abc import Mapping

from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.media import PNG, clip_bytes
from orchestrator.simulator.replies import Reply, not_found
from orchestrator.simulator.tasks import VIDEO_ACTIONS, TaskBook
from orchestrator.simulator.uploads import UploadStore

CLIP = re.compile(r"/cdn/(\d+)/(\d+)\.mp4$")
IMAGE = re.compile(r"/mj/image/(\d+)$")


def is_download(method: str, path: str) -> bool:
    """True for the paths served without a key."""
    return method == "GET" and path.startswith(("/cdn/", "/mj/image/"))


class Cdn:
    """Serves the account's media; URLs stop answering when they expire, like the real ones."""

    def __init__(self, config: SimulatorConfig, book: TaskBook, uploads: UploadStore) -> None:
        self._config = config
        self._book = book
        self._uploads = uploads

    def serve(self, path: str, headers: Mapping[str, str], now: float) -> Reply:
        """Answer one download."""
        if path.startswith("/cdn/") and not self._browser(headers):
            return Reply(403, b"forbidden: browser User-Agent required", "text/plain")
        if match := CLIP.match(path):
            return self._clip(match.group(1), int(match.group(2)), now)
        if match := IMAGE.match(path):
            task = self._book.get(match.group(1))
            done = task is not None and self._book.status(task, now)[0] == "SUCCESS"
            return Reply(200, PNG, "image/png") if done else not_found()
        upload = self._uploads.live(path, now)
        return Reply(200, upload.data, upload.mime) if upload else not_found()

    def _browser(self, headers: Mapping[str, str]) -> bool:
        return not self._config.require_browser_ua or "Mozilla/" in headers.get("user-agent", "")

    def _clip(self, task_id: str, index: int, now: float) -> Reply:
        task = self._book.get(task_id)
        if task is None or task.action not in VIDEO_ACTIONS or index >= task.batch:
            return not_found()
        if self._book.status(task, now)[0] != "SUCCESS":
            return not_found()
        ttl = self._config.clip_ttl
        if ttl is not None and now >= self._book.outcome(task)[0] + ttl:
            return not_found()
        hd = task.properties.get("videoType") == "vid_1.1_i2v_720"
        return Reply(200, clip_bytes(task.id, index, self._config.seed, hd=hd), "video/mp4")
