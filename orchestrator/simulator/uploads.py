"""Uploaded images: Discord-style signed attachment URLs that expire, like the real ones."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

ATTACHMENT = re.compile(r"/cdn/attachments/(\d+)/[\w.-]+$")
DEAD_START_FRAME = "invalid_request, No start frame provided"


@dataclass(frozen=True)
class Upload:
    """One uploaded image; times are on the provider's clock."""

    mime: str
    data: bytes
    issued: float
    expires: float


class UploadStore:
    """Every upload of the account, addressed by its attachment number."""

    def __init__(self, wall: Callable[[float], float]) -> None:
        self._wall = wall  # clock time -> Unix time, for the ex= and is= parameters
        self.items: list[Upload] = []

    def add(self, upload: Upload) -> str:
        """Keep an upload and return its path (query included), relative to the base URL."""
        self.items.append(upload)
        n = len(self.items) - 1
        ex, issued = int(self._wall(upload.expires)), int(self._wall(upload.issued))
        digest = hashlib.sha256(f"{n}:{ex}:{issued}".encode()).hexdigest()
        ext = re.sub(r"\W", "", upload.mime.split("/", 1)[1]) or "img"  # image/svg+xml -> svgxml
        return f"/cdn/attachments/{n}/image{n}.{ext}?ex={ex:x}&is={issued:x}&hm={digest}"

    def live(self, path: str, now: float) -> Upload | None:
        """Return the upload a CDN path names, None when unknown or expired."""
        match = ATTACHMENT.match(path)
        if match is None or int(match.group(1)) >= len(self.items):
            return None
        upload = self.items[int(match.group(1))]
        return upload if now < upload.expires else None

    def dead(self, url: object, now: float) -> bool:
        """True when a submitted image URL is one of ours and no longer answers."""
        if not isinstance(url, str) or "/cdn/attachments/" not in url:
            return False
        path = "/cdn/" + url.split("/cdn/", 1)[1].split("?", 1)[0]
        return self.live(path, now) is None
