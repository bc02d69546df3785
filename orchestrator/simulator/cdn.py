"""Downloads without a key: clips, the gateway's image proxy and uploaded attachments."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.footage import HD_SIZE, SD_SIZE, clip_seconds, footage, picture_of
from orchestrator.simulator.media import identity_box
from orchestrator.simulator.replies import Reply, not_found
from orchestrator.simulator.stills import still_of, still_png
from orchestrator.simulator.tasks import VIDEO_ACTIONS, SimTask, TaskBook
from orchestrator.simulator.uploads import UploadStore

CLIP = re.compile(r"/cdn/(\d+)/(\d+)\.mp4$")
IMAGE = re.compile(r"/mj/image/(\d+)$")
HOSTED = re.compile(r"/images/[\w.-]+$")  # a stand-in for a user's own image host


def is_download(method: str, path: str) -> bool:
    """True for the paths served without a key."""
    return method == "GET" and path.startswith(("/cdn/", "/mj/image/", "/images/"))


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
            return Reply(200, still_png(path), "image/png") if done else not_found()
        if HOSTED.match(path):
            return Reply(200, still_png(path), "image/png")
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
        return Reply(200, self._footage(task, index, now), "video/mp4")

    def _footage(self, task: SimTask, index: int, now: float) -> bytes:
        """A clip of the right length and size, starting from a picture of the start image."""
        root = task
        while root.parent is not None and (up := self._book.get(root.parent)) is not None:
            root = up
        hd = task.properties.get("videoType") == "vid_1.1_i2v_720"
        size = HD_SIZE if hd else SD_SIZE
        picture = picture_of(self._image(root.image, now), root.image, size)
        end = None
        if task is root and task.end_image:  # only a base clip has an end frame
            end = picture_of(self._image(task.end_image, now), task.end_image, size)
        elif task is root and task.loop:
            end = picture
        made = footage(picture, clip_seconds(task.depth), self._fault(task, index), end)
        return made + identity_box(task.id, index, self._config.seed)

    def _image(self, url: str, now: float) -> bytes | None:
        """The bytes behind an image URL when the simulator serves it (uploads, stills)."""
        upload = self._uploads.live(urlsplit(url).path, now) if url else None
        return upload.data if upload else still_of(url)

    def _fault(self, task: SimTask, index: int) -> str:
        config = self._config
        if not config.clip_fault:
            return ""
        word = config.clip_fault_word
        if word and word.lower() in task.prompt.lower():
            return config.clip_fault
        draw = hashlib.sha256(f"{config.seed}/{task.id}/{index}/fault".encode()).digest()
        return config.clip_fault if draw[0] / 256 < config.clip_fault_share else ""
