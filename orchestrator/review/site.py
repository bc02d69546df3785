"""What the review server serves, apart from HTTP: the page, its media, and verdict changes.

No path from a request reaches the file system: media are looked up by URL path in a table
made from the manifest and the spec, and the only file ever written is the review file.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from orchestrator.errors import UsageError
from orchestrator.model import Campaign
from orchestrator.report.cards import build_page
from orchestrator.report.page import report_chunks
from orchestrator.results import Manifest
from orchestrator.review.current import Clip, count_verdicts, manifest_clips
from orchestrator.review.names import clip_step
from orchestrator.review.reviewfile import VERDICTS, Review, load_review, update_review
from orchestrator.review.verdicts import Change, apply_change, may_approve
from orchestrator.review.who import timestamp

MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
MAX_NOTE = 2000


class RequestError(UsageError):
    """A request the review server refuses; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Site:
    """The review of one campaign: its manifest (re-read for each page, with the campaign as
    its approvals plan it), review file, reviewer and token."""

    campaign: Campaign
    manifest: Callable[[], tuple[Campaign, Manifest | None]]
    review_file: Path
    reviewer: str
    token: str
    media: Mapping[str, Path] | None = None
    clips: Mapping[str, Clip] | None = None

    def page(self) -> Iterator[str]:
        """The report with live review controls, piece by piece (the head once every card was
        read: a broken manifest fails before anything is sent); refreshes the clip and media
        tables."""
        campaign, manifest = self.manifest()
        self.clips = {clip.path: clip for clip in manifest_clips(manifest)}
        self.media = media_table(campaign, manifest)
        page = build_page(campaign, manifest, load_review(self.review_file))
        return report_chunks(replace(page, token=self.token))

    def medium(self, raw_path: str) -> tuple[Path, str] | None:
        """The file (and its media type) behind a URL path of the page, None when unknown."""
        path = (self.media or {}).get(posixpath.normpath(unquote(raw_path)))
        if path is None or not path.is_file():
            return None
        return path, MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")

    def change(self, body: Any) -> dict[str, Any]:
        """Apply one verdict change (a JSON object) to the review file; the step's new state."""
        clip, change = self._parsed(body)

        def edit(review: Review) -> Review:
            return apply_change(review, clip, change, self.reviewer, timestamp())

        review = update_review(self.review_file, edit, self.campaign.spec_path.name)
        return self.answer(review, clip)

    def answer(self, review: Review, clip: Clip) -> dict[str, Any]:
        """Verdicts of every clip of ``clip``'s step, and the campaign's counts."""
        folder, step, _ = clip_step(clip.path)
        known = (self.clips or {}).values()
        shown = [c for c in known if clip_step(c.path)[:2] == (folder, step)]
        states = {c.path: _state(review, c) for c in shown}
        return {"clips": states, "counts": vars(count_verdicts(review, iter(known)))}

    def _parsed(self, body: Any) -> tuple[Clip, Change]:
        if not isinstance(body, dict):
            raise RequestError(400, "expected a JSON object")
        clip = (self.clips or {}).get(str(body.get("clip")))
        if clip is None:
            raise RequestError(404, "no such clip in the manifest")
        if body.get("sha256") != clip.sha256:
            raise RequestError(409, f"{clip.path} changed since the page was made: reload it")
        verdict, stars, note = body.get("verdict"), body.get("stars"), body.get("note")
        if verdict is not None and verdict not in (*VERDICTS, ""):
            raise RequestError(400, "verdict must be approved, rejected or empty")
        if stars is not None and (type(stars) is not int or not 0 <= stars <= 5):
            raise RequestError(400, "stars must be 0 to 5")
        if note is not None and not _text(note):
            raise RequestError(400, f"note must be a text of at most {MAX_NOTE} characters")
        why = may_approve(clip, bool(body.get("force"))) if verdict == "approved" else None
        if why is not None:
            raise RequestError(409, f"{clip.path}: {why}")
        return clip, Change(verdict, stars, note)


def _text(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > MAX_NOTE:
        return False
    try:
        value.encode("utf-8")  # JSON may carry a lone surrogate, which no file can hold
    except UnicodeEncodeError:
        return False
    return True


def _state(review: Review, clip: Clip) -> dict[str, Any]:
    verdict = review.on(clip.path, clip.sha256)
    if verdict is None:
        return {"verdict": "unreviewed", "stars": 0, "note": ""}
    return {
        "verdict": verdict.verdict or "unreviewed",
        "stars": verdict.stars or 0,
        "note": verdict.note or "",
    }


def media_table(campaign: Campaign, manifest: Manifest | None) -> dict[str, Path]:
    """URL path -> file for every clip, earlier version and local image the page links to.

    The page is served at ``/`` and links media relative to the output folder, as
    report.html does; these are the paths a browser resolves those links to.
    """
    output = campaign.output_dir
    table = {"/" + clip.path: output / clip.path for clip in manifest_clips(manifest)}
    for entry in manifest.jobs if manifest else ():
        for version in entry.versions:
            for f in version.files:
                path = f"{entry.output}/{f.name}"
                table[posixpath.normpath("/" + path)] = output / path
    for job in campaign.jobs:
        for image in (job.image, job.end_image):
            if image is not None and image.path is not None:
                link = Path(os.path.relpath(image.path, output)).as_posix()
                table[posixpath.normpath("/" + link)] = image.path
    return table
