"""Pictures the simulator serves: its imagine stills and stand-ins for a user's image host.

``/mj/image/<task>`` (an imagine or upscale result) and ``/images/<name>`` (any name: a start
image a test hands over by URL, served from loopback) answer a PNG drawn from their path, and
a clip started from such a URL starts from exactly that picture, so the clip checks can
compare the two like they compare a clip with a local start image.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

import av

from orchestrator.simulator.footage import SD_SIZE, picture_of

STILL = re.compile(r"/(?:mj/image/\d+|images/[\w.-]+)$")


def is_still(path: str) -> bool:
    """True for the path of a picture the simulator draws (whether or not it is ready)."""
    return STILL.match(path) is not None


def still_of(url: str | None) -> bytes | None:
    """The PNG the simulator serves at ``url`` when it is one of its pictures' paths."""
    path = urlsplit(url).path if url else ""
    return still_png(path) if is_still(path) else None


@functools.lru_cache(maxsize=32)
def still_png(path: str) -> bytes:
    """A PNG (854x480) of the pattern drawn from ``path``."""
    rgb = picture_of(None, path, SD_SIZE)
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = SD_SIZE[0], SD_SIZE[1], "rgb24"
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])
