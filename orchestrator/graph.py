"""The submission graph of a campaign: every paid call it needs, derived once (pure, no I/O).

Uploads, imagine grids, upscales, base clips and extension steps are nodes keyed by their
fingerprint; jobs that need the same call share its node. The runner declares the graph, and
the plan prices it, so both count the same submissions.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from orchestrator.model import Campaign, ImageSource, Job, fingerprint
from orchestrator.providers import DEFAULT_PROVIDER
from orchestrator.providers.pricing import price_key
from orchestrator.state import SubmissionSpec


class Kind(StrEnum):
    """What a submission is; it decides its price key (``Campaign.price_of``)."""

    UPLOAD = "upload"
    IMAGINE = "imagine"
    UPSCALE = "upscale"
    VIDEO = "video"
    EXTEND = "extend"


SOURCE_KINDS = frozenset({Kind.UPLOAD, Kind.IMAGINE, Kind.UPSCALE})


@dataclass(frozen=True, slots=True)
class Node:
    """One submission of the campaign."""

    key: str
    kind: Kind
    mode: str
    parent: str | None
    label: str  # the job's name, or the image's name for a source
    step: int  # 1..4 for extension steps, else 0
    jobs: tuple[str, ...]  # names of the jobs that need it
    request: str = ""  # canonical JSON of what it asks for: compared to say why a job changed
    provider: str = "cometapi"
    video_type: str = ""
    batch: int = 1

    @property
    def price_key(self) -> str:
        """The price key of this submission (providers.pricing): on CometAPI its mode for
        video calls, else its kind."""
        return price_key(self.provider, str(self.kind), self.mode, self.video_type, self.batch)


@dataclass(frozen=True)
class Graph:
    """Every submission a set of jobs needs, in a stable order (sources first)."""

    nodes: Mapping[str, Node]
    needs: Mapping[str, tuple[str, ...]]  # job name -> keys it needs, sources first

    def specs(self) -> list[SubmissionSpec]:
        """What the state declares for these nodes."""
        return [
            SubmissionSpec(n.key, n.label, str(n.kind), n.step, n.parent, n.request or None)
            for n in self.nodes.values()
        ]

    def price(self, campaign: Campaign, key: str) -> float | None:
        """Price of one node, None when unknown."""
        return campaign.price_by_key(self.nodes[key].price_key)


def imagine_key(image: ImageSource) -> str:
    """Key of the imagine (grid) submission behind an ``imagine:`` source."""
    return fingerprint({"imagine": image.imagine})


def upscale_key(image: ImageSource) -> str:
    """Key of the upsample submission that picks one picture of the grid."""
    return fingerprint({"upscale": imagine_key(image), "pick": image.pick})


def upload_key(image: ImageSource) -> str:
    """Key of the upload submission of a local file (by content)."""
    return fingerprint({"upload": image.sha256})


def pending_counts(jobs: Iterable[Job], done: Collection[str]) -> dict[tuple[Kind, str], int]:
    """How many submissions ``jobs`` still need, by (kind, price key), each key counted once
    (a plan's work: shared sources and identical requests are one submission)."""
    seen: set[str] = set(done)
    counts: dict[tuple[Kind, str], int] = {}
    tags: dict[tuple[str, int], tuple[tuple[Kind, str], tuple[Kind, str]]] = {}
    for job in jobs:
        if job.image.kind != "url" or (job.end_image is not None and job.end_image.kind != "url"):
            for node in _source_list(job):
                if node.key not in seen:
                    seen.add(node.key)
                    tag = (node.kind, node.price_key)
                    counts[tag] = counts.get(tag, 0) + 1
        # Jobs of one matrix row share their settings object: its price keys are made once.
        video, extend = tags.get((job.provider, id(job.settings))) or _tags(tags, job)
        key = job.fingerprint
        if key not in seen:
            seen.add(key)
            counts[video] = counts.get(video, 0) + 1
        for step in job.extensions:  # a loop, not a list per job: this runs per job of a plan
            if step.fingerprint not in seen:
                seen.add(step.fingerprint)
                counts[extend] = counts.get(extend, 0) + 1
    return counts


def _tags(
    tags: dict[tuple[str, int], tuple[tuple[Kind, str], tuple[Kind, str]]], job: Job
) -> tuple[tuple[Kind, str], tuple[Kind, str]]:
    """The (kind, price key) of ``job``'s base clip and of its extensions, kept in ``tags``
    by provider and settings object (which the jobs keep alive, so ids are not reused)."""
    s = job.settings
    found = tags[(job.provider, id(s))] = (
        (Kind.VIDEO, price_key(job.provider, "video", s.mode, s.video_type, s.batch_size)),
        (Kind.EXTEND, price_key(job.provider, "extend", s.mode, s.video_type, s.batch_size)),
    )
    return found


def _source_list(job: Job) -> list[Node]:
    if job.image.kind == "url" and (job.end_image is None or job.end_image.kind == "url"):
        return []
    found: list[Node] = []
    for image in (job.image, job.end_image):
        if image is not None and image.kind != "url":
            found.extend(_source_nodes(image, job.name))
    return found


def build_graph(jobs: Iterable[Job], *, requests: bool = False) -> Graph:
    """The submissions ``jobs`` need; shared sources and identical requests appear once.

    ``requests`` also describes what each clip asks for (what the state keeps to say why a job
    changed); planning does without.
    """
    nodes: dict[str, Node] = {}
    needs: dict[str, tuple[str, ...]] = {}
    for job in jobs:
        keys = [_add(nodes, node, job.name) for node in _job_nodes(job, requests)]
        needs[job.name] = tuple(keys)
    sources = [n for n in nodes.values() if n.kind in SOURCE_KINDS]
    chains = [n for n in nodes.values() if n.kind not in SOURCE_KINDS]
    return Graph({n.key: n for n in (*sources, *chains)}, needs)


def _add(nodes: dict[str, Node], node: Node, job: str) -> str:
    known = nodes.get(node.key)
    if known is None:
        nodes[node.key] = node
    elif job not in known.jobs:
        nodes[node.key] = replace(known, jobs=(*known.jobs, job))
    return node.key


def describe(value: Mapping[str, Any]) -> str:
    """Canonical JSON of a request description (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def job_request(job: Job) -> dict[str, Any]:
    """What a job's base clip asks for: the parts of its fingerprint, by name."""
    end = job.end_image.identity() if job.end_image else None
    request = {
        "image": job.image.identity(),
        "end_image": end,
        "prompt": job.prompt,
        "settings": asdict(job.settings),
        "take": job.take,
    }
    if job.provider != DEFAULT_PROVIDER:  # as in the fingerprint: absent means cometapi
        request["provider"] = job.provider
    return request


def _job_nodes(job: Job, requests: bool) -> Iterator[Node]:
    for image in (job.image, job.end_image):
        if image is not None:
            yield from _source_nodes(image, job.name)
    mode, name = job.settings.mode, job.name
    base = describe(job_request(job)) if requests else ""
    bill = job.provider, job.settings.video_type, job.settings.batch_size
    yield Node(job.fingerprint, Kind.VIDEO, mode, None, name, 0, (name,), base, *bill)
    parent = job.fingerprint
    for ext in job.extensions:
        step = {"prompt": ext.prompt, "motion": ext.motion, "index": ext.index}
        request = describe(step) if requests else ""
        key, index = ext.fingerprint, ext.step
        yield Node(key, Kind.EXTEND, mode, parent, name, index, (name,), request, *bill)
        parent = ext.fingerprint


def _source_nodes(image: ImageSource, job: str) -> Iterator[Node]:
    if image.kind == "file":
        yield Node(upload_key(image), Kind.UPLOAD, "fast", None, image.name, 0, (job,))
    elif image.kind == "imagine":
        grid = imagine_key(image)
        yield Node(grid, Kind.IMAGINE, image.mode, None, image.name, 0, (job,))
        yield Node(upscale_key(image), Kind.UPSCALE, image.mode, grid, image.name, 0, (job,))
