"""After schema errors, keep the parts of a spec that passed so semantic checks still run on them.

Each schema error marks a unit as broken: an image, a prompt, a job, or a top-level key. Broken
images and prompts are dropped (and references to them are not reported again), broken jobs are
replaced by None so the others keep their indexes. A wrong type for a whole section, a missing
required key, or a broken campaign name, defaults or vars leave too little to check (or would
only make confusing follow-up errors), so those skip expansion or every semantic check.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from orchestrator.spec.problems import JsonPath
from orchestrator.spec.yamlsource import Document

_SECTIONS = ("images", "prompts", "jobs")
_EXPANSION_INPUTS = ("campaign", "defaults", "vars")


def salvage(doc: Document, broken: Iterable[JsonPath]) -> bool | None:
    """Prune ``doc.data`` around ``broken`` paths; say if expansion may run (None: nothing may)."""
    data: dict[str, Any] = dict(doc.data)
    for key in _SECTIONS:
        if isinstance(data.get(key), dict | list):
            data[key] = data[key].copy()
    expand = True
    for path in broken:
        if not path or (path[0] in _SECTIONS and len(path) == 1):
            return None
        if path[0] in _SECTIONS:
            _drop_unit(doc, data, path[0], path[1])
        elif path[0] in _EXPANSION_INPUTS:
            expand = False
            if len(path) == 1:  # the whole section has the wrong type
                data.pop(str(path[0]), None)
        else:
            data.pop(str(path[0]), None)
    doc.data = data
    return expand


def _drop_unit(doc: Document, data: dict[str, Any], section: str, key: str | int) -> None:
    if section == "jobs" and isinstance(key, int):
        data["jobs"][key] = None
    else:
        data[section].pop(str(key), None)
        doc.broken.add((section, key))


def live_jobs(data: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Index and job of every job that passed the schema."""
    return ((i, job) for i, job in enumerate(data["jobs"]) if job is not None)
