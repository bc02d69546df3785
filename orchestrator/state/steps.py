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


# The submission, its current attempt (money, outcome) and whether the next one exists: the
# one read of most lifecycle writes (the attempts of a locked submission cannot change under it).
_BEGIN = (
    "SELECT s.status, s.attempt, s.lease_owner, s.job, a.attempt, a.reserved, a.charged,"
    " a.refunded, a.outcome, n.attempt FROM submissions s"
    " LEFT JOIN attempts a ON a.campaign = s.campaign AND a.key = s.key AND a.attempt = s.attempt"
    " LEFT JOIN attempts n ON n.campaign = s.campaign AND n.key = s.key"
    " AND n.attempt = s.attempt + 1 WHERE s.campaign = ? AND s.key = ?"
)

AttemptRow = tuple[int, int, int, str | None]  # reserved, charged, refunded, outcome


def _row(reserved: Any, charged: Any, refunded: Any, outcome: Any) -> AttemptRow:
    """An attempt's money (integer micro-units) and outcome, as read."""
    return int(reserved), int(charged), int(refunded), None if outcome is None else str(outcome)


class Steps:
    """Reads and writes of one submission inside the caller's transaction.

    ``begin`` also reads the current attempt's row, and knows whether the next one exists;
    the pieces after it use what it read (and what they wrote) instead of reading again.
    """

    def __init__(self, link: Link, campaign: str) -> None:
        self._link = link
        self._campaign = campaign
        self._now = link.dialect.now
        self._lock = link.dialect.lock_of("s")
        self._known: dict[tuple[str, int], AttemptRow | None] = {}  # None: no such row

    def begin(self, key: str, action: Action, owner: str | None) -> tuple[Status, int]:
        """Lock ``key``'s row and check ``action`` may start (status and fence).

        The row stays locked until the transaction ends (on SQLite the whole file is), so no
        claim can slip in between the fence check and the write. Returns (status, attempt).
        """
        self._known = {}
        rows = self._link.execute(_BEGIN + self._lock, (self._campaign, key))
        if not rows:
            where = self._link.shown
            raise StateError(f"{where}: {key} was never declared in {self._campaign}")
        status, attempt, holder, job, current, *money, outcome, following = rows[0]
        if status not in sources(action):
            raise StateError(f"cannot {action} {job} ({key}): it is {status}")
        check_fence(key, holder, owner)
        self._known[(key, int(attempt))] = (
            None if current is None else _row(money[0], money[1], money[2], outcome)
        )
        if following is None:
            self._known[(key, int(attempt) + 1)] = None
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
        old = self._attempt(key, attempt)
        if old is None:
            return
        deltas = [fields.get(name, was) - was for name, was in zip(_MONEY, old[:3], strict=True)]
        names = ", ".join(f"{name} = ?" for name in fields)
        where = (self._campaign, key, attempt)
        self._link.write(f"UPDATE attempts SET {names} {_ONE_ATTEMPT}", (*fields.values(), *where))
        if any(deltas):
            self._link.write(_ADD_TOTALS, (self._campaign, *deltas))
        money = [was + delta for was, delta in zip(old[:3], deltas, strict=True)]
        self._known[(key, attempt)] = _row(
            money[0], money[1], money[2], fields.get("outcome", old[3])
        )

    def _attempt(self, key: str, attempt: int) -> AttemptRow | None:
        """One attempt's money and outcome: as ``begin`` read it or written since, else read."""
        if (key, attempt) in self._known:
            return self._known[(key, attempt)]
        rows = self._link.execute(
            f"SELECT reserved, charged, refunded, outcome FROM attempts {_ONE_ATTEMPT}",
            (self._campaign, key, attempt),
        )
        found = _row(*rows[0][:4]) if rows else None
        self._known[(key, attempt)] = found
        return found

    def new_attempt(self, key: str, attempt: int, **fields: Any) -> None:
        """Insert attempt ``attempt`` with ``fields`` (reserved money moves the totals); an
        existing row is updated instead (its money moved by the difference)."""
        if self._attempt(key, attempt) is not None:
            self.set_attempt(key, attempt, **fields)
            return
        names = "".join(f", {name}" for name in fields)
        marks = ", ?" * len(fields)
        self._link.write(
            f"INSERT INTO attempts (campaign, key, attempt, started_at{names})"
            f" VALUES (?, ?, ?, {self._now}{marks})",
            (self._campaign, key, attempt, *fields.values()),
        )
        reserved = int(fields.get("reserved") or 0)
        if reserved:
            self._link.write(_ADD_TOTALS, (self._campaign, reserved, 0, 0))
        self._known[(key, attempt)] = (reserved, 0, 0, fields.get("outcome"))

    def abandon(self, key: str, status: Status, attempt: int, why: str) -> None:
        """Close an attempt that has no outcome; an in-doubt one keeps its reservation."""
        row = self._attempt(key, attempt)
        if row is None or row[3] is not None:
            return
        if status == Status.SUBMITTING:  # it may have reached the provider: possibly charged
            self.set_attempt(key, attempt, outcome="in_doubt", reason=why)
        else:
            self.set_attempt(key, attempt, outcome="abandoned", reason=why, reserved=0)

    def charged(self, key: str, attempt: int) -> int:
        """The charge of one attempt in micro-units (0 when it has none)."""
        row = self._attempt(key, attempt)
        return row[1] if row else 0

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
