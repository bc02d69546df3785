"""Names a job's output folder may not take: the files and folders mjv writes beside the clips.

A job folder named ``manifest.json`` or ``report.html`` would validate, be paid for, then fail
to be written (or overwrite what mjv keeps there); one named ``versions`` inside another job's
folder would mix with its kept clips. They are refused before anything is spent.
"""

from __future__ import annotations

import functools
import re

# In the output folder (the campaign's): the lock file, the report, and what other commands
# write beside them; the state folder, in case output.dir is the spec's own folder.
OUTPUT_NAMES = frozenset(
    {"manifest.json", "report.html", "export.json", "export.csv", "thumbs", ".mjv"}
)
# In a job folder (group 1): the clips and the kept versions of replaced ones; temp files
# (".<name>.<hex>.part", ".<name>.<hex>.tmp") and anything hidden (group 2). One pattern: it
# runs once per job.
_REFUSED = re.compile(r"((?:ext\d+-)?clip-\d+\.mp4|versions)|(\..*|.*\.(?:part|tmp))", re.I)
_TAILS = (".part", ".tmp")


def reserved_problem(folder: str, spec_stem: str) -> str | None:
    """Why the job folder ``folder`` (relative to output.dir, normalised) is refused, if it is."""
    if "/" not in folder and folder.isascii():  # one ASCII part: most folders, tested at once
        low = folder.lower()
        if low not in _top_names(spec_stem) and not _marked(low):
            return None
    parts = folder.split("/")
    if parts[0].lower() in _top_names(spec_stem):
        return f"{parts[0]!r} is a name mjv writes in the output folder"
    for part in parts:
        found = _refused(part)
        if found and found.group(1) is not None:
            return f"{part!r} is a name mjv writes in a job folder"
        if found:
            return f"{part!r} is hidden or a temporary file's name"
    return None


def _refused(part: str) -> re.Match[str] | None:
    """``_REFUSED.fullmatch(part)``; an ASCII name with none of its marks is let through
    without the regex (whose ``.*`` walks every name twice: a tenth of a big plan's time)."""
    if part.isascii() and not _marked(part.lower()):
        return None
    return _REFUSED.fullmatch(part)


def _marked(low: str) -> bool:
    """Whether an ASCII name (lower case) has a mark that ``_REFUSED`` needs to match."""
    return "clip-" in low or low == "versions" or low.startswith(".") or low.endswith(_TAILS)


@functools.lru_cache(maxsize=16)
def _top_names(spec_stem: str) -> frozenset[str]:
    """The names (lower case) refused as a job folder's first part: mjv's and the spec's."""
    spec_names = {f"{spec_stem}.review.yaml", f"{spec_stem}.yaml", f"{spec_stem}.yml"}
    return OUTPUT_NAMES | {name.lower() for name in spec_names}
