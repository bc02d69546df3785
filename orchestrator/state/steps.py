"""The pieces every lifecycle write is made of, on one open transaction of the SQL store.

``Steps`` holds no state of its own beyond the link and the campaign: each write of
``SqlStore`` opens a transaction, then calls ``begin`` (the status and fence check) and the
pieces it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.errors import StateError
from orchestrator.state.dialect import Link
from orchestrator.state.leases import check_fence
from orchestrator.state.lifecycle import Action, Status, sources
from orchestrator.state.records import FileRecord

_ADD_TOTALS = (
    "INSERT INTO campaigns AS c (campaign, reserved, charged, refunded) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (campaign) DO UPDATE SET reserved = c.reserved + excluded.reserved,"
    " charged = c.charged + excluded.charged, refunded = c.refunded + excluded.refunded"
)
_MONEY = ("reserved", "charged", "refunded")
_ONE_ATTEMPT = "WHERE campaign = ? AND key = ? AND attempt = ?"


class Steps:
    """Reads and writes of one submission inside the caller's transaction."""

    def __init__(self, link: Link, campaign: str) -> None:
        self._link = link
        self._campaign = campaign
        self._now = link.dialect.now

    def begin(self, key: str, action: Action, owner: str | None) -> tuple[Status, int]:
        """Lock ``key``'s row and check ``action`` may start (status and fence).

        The row stays locked until the transaction ends (on SQLite the whole file is), so no
        claim can slip in between the fence check and the write. Returns (status, attempt).
        """
        rows = self._link.execute(
            "SELECT status, attempt, lease_owner, job FROM submissions"
            f" WHERE campaign = ? AND key = ?{self._link.dialect.lock_row}",
            (self._campaign, key),
        )
        if not rows:
            where = self._link.shown
            raise StateError(f"{where}: {key} was never declared in {self._campaign}")
        status, attempt, holder, job = rows[0]
        if status not in sources(action):
            raise StateError(f"cannot {action} {job} ({key}): it is {status}")
        check_fence(key, holder, owner)
        return Status(status), int(attempt)

    def update(self, key: str, **fields: Any) -> None:
        """Set columns of the submission ``key`` and stamp its update time."""
        names = "".join(f"{name} = ?, " for name in fields)
        self._link.write(
            f"UPDATE submissions SET {names}updated_at = {self._now}"
            " WHERE campaign = ? AND key = ?",
            (*fields.values(), self._campaign, key),
        )

    def set_attempt(self, key: str, attempt: int, **fields: Any) -> None:
        """Set columns of one attempt; money columns also move the campaign's running totals."""
        where = (self._campaign, key, attempt)
        old = self._link.execute(
            f"SELECT reserved, charged, refunded FROM attempts {_ONE_ATTEMPT}", where
        )
        if not old:
            return
        deltas = [fields.get(name, was) - was for name, was in zip(_MONEY, old[0], strict=True)]
        names = ", ".join(f"{name} = ?" for name in fields)
        self._link.write(f"UPDATE attempts SET {names} {_ONE_ATTEMPT}", (*fields.values(), *where))
        if any(deltas):
            self._link.write(_ADD_TOTALS, (self._campaign, *deltas))

    def new_attempt(self, key: str, attempt: int, **fields: Any) -> None:
        """Insert attempt ``attempt`` with ``fields`` (reserved money moves the totals); an
        existing row is updated instead (its money moved by the difference)."""
        names = "".join(f", {name}" for name in fields)
        marks = ", ?" * len(fields)
        added = self._link.execute(
            f"INSERT INTO attempts (campaign, key, attempt, started_at{names})"
            f" VALUES (?, ?, ?, {self._now}{marks}) ON CONFLICT DO NOTHING RETURNING attempt",
            (self._campaign, key, attempt, *fields.values()),
        )
        if not added:
            self.set_attempt(key, attempt, **fields)
        elif fields.get("reserved"):
            self._link.write(_ADD_TOTALS, (self._campaign, fields["reserved"], 0, 0))

    def start_attempt(self, key: str, attempt: int) -> None:
        """Insert an empty attempt row (no money yet); an existing one is kept."""
        self._link.write(
            "INSERT INTO attempts (campaign, key, attempt, started_at)"
            f" VALUES (?, ?, ?, {self._now}) ON CONFLICT DO NOTHING",
            (self._campaign, key, attempt),
        )

    def abandon(self, key: str, status: Status, attempt: int, why: str) -> None:
        """Close an attempt that has no outcome; an in-doubt one keeps its reservation."""
        rows = self._link.execute(
            f"SELECT outcome FROM attempts {_ONE_ATTEMPT}", (self._campaign, key, attempt)
        )
        if not rows or rows[0][0] is not None:
            return
        if status == Status.SUBMITTING:  # it may have reached the provider: possibly charged
            self.set_attempt(key, attempt, outcome="in_doubt", reason=why)
        else:
            self.set_attempt(key, attempt, outcome="abandoned", reason=why, reserved=0)

    def charged(self, key: str, attempt: int) -> int:
        """The charge of one attempt in micro-units (0 when it has none)."""
        rows = self._link.execute(
            f"SELECT charged FROM attempts {_ONE_ATTEMPT}", (self._campaign, key, attempt)
        )
        return int(rows[0][0]) if rows else 0

    def replace_files(self, key: str, files: Sequence[FileRecord]) -> None:
        """Delete the key's files and insert ``files`` instead; replaced ones go to versions."""
        self._keep_versions(key, files)
        self._link.write("DELETE FROM files WHERE campaign = ? AND key = ?", (self._campaign, key))
        self._link.execute_many(
            "INSERT INTO files (campaign, key, idx, name, url, sha256, size)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(self._campaign, key, f.index, f.name, f.url, f.sha256, f.size) for f in files],
        )

    def _keep_versions(self, key: str, files: Sequence[FileRecord]) -> None:
        """Copy the key's file rows that ``files`` does not repeat into file_versions."""
        kept = [(f.index, f.sha256) for f in files]
        old = self._link.execute(
            "SELECT f.idx, f.name, f.url, f.sha256, f.size, s.attempt FROM files f"
            " JOIN submissions s ON s.campaign = f.campaign AND s.key = f.key"
            " WHERE f.campaign = ? AND f.key = ?",
            (self._campaign, key),
        )
        replaced = [(self._campaign, key, r[5], *r[:5]) for r in old if (r[0], r[3]) not in kept]
        if replaced:
            self._link.execute_many(
                "INSERT INTO file_versions (campaign, key, attempt, idx, name, url, sha256, size,"
                f" replaced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {self._now})"
                " ON CONFLICT (campaign, key, attempt, idx) DO UPDATE SET name = excluded.name,"
                " url = excluded.url, sha256 = excluded.sha256, size = excluded.size,"
                " replaced_at = excluded.replaced_at",
                replaced,
            )
