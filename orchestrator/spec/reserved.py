"""Names a job's output folder may not take: the files and folders mjv writes beside the clips.

A job folder named ``manifest.json`` or ``report.html`` would validate, be paid for, then fail
to be written (or overwrite what mjv keeps there); one named ``versions`` inside another job's
folder would mix with its kept clips. They are refused before anything is spent.
"""

from __future__ import annotations

import re

# In the output folder (the campaign's): the lock file, the report, and what other commands
# write beside them; the state folder, in case output.dir is the spec's own folder.
OUTPUT_NAMES = frozenset(
    {"manifest.json", "report.html", "export.json", "export.csv", "thumbs", ".mjv"}
)
# In a job folder: the clips and the kept versions of replaced ones.
_JOB_FILE = re.compile(r"(ext\d+-)?clip-\d+\.mp4|versions", re.IGNORECASE)
# Temp files (".<name>.<hex>.part", ".<name>.<hex>.tmp") and anything hidden.
_TEMP = re.compile(r"\..*|.*\.(part|tmp)", re.IGNORECASE)


def reserved_problem(folder: str, spec_stem: str) -> str | None:
    """Why the job folder ``folder`` (relative to output.dir, normalised) is refused, if it is."""
    parts = folder.split("/")
    first = parts[0].lower()
    spec_names = {f"{spec_stem}.review.yaml", f"{spec_stem}.yaml", f"{spec_stem}.yml"}
    if first in OUTPUT_NAMES or first in {name.lower() for name in spec_names}:
        return f"{parts[0]!r} is a name mjv writes in the output folder"
    for part in parts:
        if _JOB_FILE.fullmatch(part):
            return f"{part!r} is a name mjv writes in a job folder"
        if _TEMP.fullmatch(part):
            return f"{part!r} is hidden or a temporary file's name"
    return None
