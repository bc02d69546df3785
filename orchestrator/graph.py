"""The submission graph of a campaign: every paid call it needs, derived once (pure, no I/O).

Uploads, imagine grids, upscales, base clips and extension steps are nodes keyed by their
fingerprint; jobs that need the same call share its node. The runner declares the graph, and
the plan prices it, so both count the same submissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.model import VIDEO_KINDS, Campaign, ImageSource, Job, fingerprint
from orchestrator.state import SubmissionSpec


class Kind(StrEnum):
    """What a submission is; it decides its price key (``Campaign.price_of``)."""

    UPLOAD = "upload"
    IMAGINE = "imagine"
    UPSCALE = "upscale"
    VIDEO = "video"
    EXTEND = "extend"


SOURCE_KINDS = frozenset({Kind.UPLOAD, Kind.IMAGINE, Kind.UPSCALE})


@dataclass(frozen=True)
class Node:
    """One submission of the campaign."""

    key: str
    kind: Kind
    mode: str
    parent: str | None
    label: str  # the job's name, or the image's name for a source
    step: int  # 1..4 for extension steps, else 0
    jobs: tuple[str, ...]  # names of the jobs that need it

    @property
    def price_key(self) -> str:
        """The ``pricing:`` key of this submission: its mode for video calls, else its kind."""
        return self.mode if self.kind in VIDEO_KINDS else str(self.kind)


@dataclass(frozen=True)
class Graph:
    """Every submission a set of jobs needs, in a stable order (sources first)."""

    nodes: Mapping[str, Node]
    needs: Mapping[str, tuple[str, ...]]  # job name -> keys it needs, sources first

    def specs(self) -> list[SubmissionSpec]:
        """What the state declares for these nodes."""
        return [
            SubmissionSpec(n.key, n.label, str(n.kind), n.step, n.parent)
            for n in self.nodes.values()
        ]

    def price(self, campaign: Campaign, key: str) -> float | None:
        """Price of one node, None when unknown."""
        return campaign.pricing.get(self.nodes[key].price_key)


def imagine_key(image: ImageSource) -> str:
    """Key of the imagine (grid) submission behind an ``imagine:`` source."""
    return fingerprint({"imagine": image.imagine})


def upscale_key(image: ImageSource) -> str:
    """Key of the upsample submission that picks one picture of the grid."""
    return fingerprint({"upscale": imagine_key(image), "pick": image.pick})


def upload_key(image: ImageSource) -> str:
    """Key of the upload submission of a local file (by content)."""
    return fingerprint({"upload": image.sha256})


def build_graph(jobs: Iterable[Job]) -> Graph:
    """The submissions ``jobs`` need; shared sources and identical requests appear once."""
    nodes: dict[str, Node] = {}
    needs: dict[str, tuple[str, ...]] = {}
    for job in jobs:
        keys = [_add(nodes, node, job.name) for node in _job_nodes(job)]
        needs[job.name] = tuple(keys)
    sources = [n for n in nodes.values() if n.kind in SOURCE_KINDS]
    chains = [n for n in nodes.values() if n.kind not in SOURCE_KINDS]
    return Graph({n.key: n for n in (*sources, *chains)}, needs)


def _add(nodes: dict[str, Node], node: Node, job: str) -> str:
    known = nodes.get(node.key)
    if known is None:
        nodes[node.key] = node
    elif job not in known.jobs:
        nodes[node.key] = Node(*_fields(known), (*known.jobs, job))
    return node.key


def _fields(node: Node) -> tuple[str, Kind, str, str | None, str, int]:
    return node.key, node.kind, node.mode, node.parent, node.label, node.step


def _job_nodes(job: Job) -> Iterator[Node]:
    for image in (job.image, job.end_image):
        if image is not None:
            yield from _source_nodes(image, job.name)
    mode, parent = job.settings.mode, None
    yield Node(job.fingerprint, Kind.VIDEO, mode, None, job.name, 0, (job.name,))
    parent = job.fingerprint
    for ext in job.extensions:
        yield Node(ext.fingerprint, Kind.EXTEND, mode, parent, job.name, ext.step, (job.name,))
        parent = ext.fingerprint


def _source_nodes(image: ImageSource, job: str) -> Iterator[Node]:
    if image.kind == "file":
        yield Node(upload_key(image), Kind.UPLOAD, "fast", None, image.name, 0, (job,))
    elif image.kind == "imagine":
        grid = imagine_key(image)
        yield Node(grid, Kind.IMAGINE, image.mode, None, image.name, 0, (job,))
        yield Node(upscale_key(image), Kind.UPSCALE, image.mode, grid, image.name, 0, (job,))
