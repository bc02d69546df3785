"""One read of a campaign's results: what the manifest, the report and the review are built from.

After a run they used to ask the state some fifteen questions one after another (a round trip
each on PostgreSQL); ``read_snapshot`` sends its queries together (``Link.read_all``), reading
one snapshot, and ``Snapshot`` answers every read of ``Reads`` from what came back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from orchestrator.state import rows
from orchestrator.state.dialect import Link
from orchestrator.state.records import (
    Attempt,
    FileRecord,
    FileVersion,
    Money,
    QcRecord,
    Submission,
    Totals,
)

R = TypeVar("R", FileRecord, Attempt)
_EVERY_ATTEMPT = rows.ATTEMPTS.replace(" AND key = ?", "").replace("ORDER BY", "ORDER BY key,")


@dataclass(frozen=True)
class Snapshot:
    """A campaign's submissions, files, attempts, money and clip checks as read at once."""

    subs: Mapping[str, Submission]  # by key, in key order
    files_by_key: Mapping[str, list[FileRecord]]
    attempts_by_key: Mapping[str, list[Attempt]]
    versions: tuple[FileVersion, ...]
    money_by_key: Mapping[str, Money]
    campaign_totals: Totals
    checks: Mapping[tuple[str, int], QcRecord]

    def get(self, key: str) -> Submission | None:
        """The submission with ``key``, or None."""
        return self.subs.get(key)

    def submissions(self) -> list[Submission]:
        """Every submission, ordered by key."""
        return list(self.subs.values())

    def files(self, key: str) -> list[FileRecord]:
        """The key's recorded files, ordered by index."""
        return list(self.files_by_key.get(key, ()))

    def all_files(self) -> dict[str, list[FileRecord]]:
        """Every key's recorded files."""
        return {key: list(found) for key, found in self.files_by_key.items()}

    def attempts(self, key: str) -> list[Attempt]:
        """The key's attempts, oldest first."""
        return list(self.attempts_by_key.get(key, ()))

    def file_versions(self) -> list[FileVersion]:
        """The replaced files, by key, attempt and index."""
        return list(self.versions)

    def money(self) -> dict[str, Money]:
        """Every key's money."""
        return dict(self.money_by_key)

    def totals(self) -> Totals:
        """The campaign's money."""
        return self.campaign_totals

    def qc_results(self) -> dict[tuple[str, int], QcRecord]:
        """Every clip check, by (key, clip index)."""
        return dict(self.checks)


def read_snapshot(link: Link, campaign: str) -> Snapshot:
    """Read ``campaign``'s results in one snapshot."""
    queries = (
        rows.SUBMISSIONS + " ORDER BY key",
        rows.FILES + " ORDER BY key, idx",
        _EVERY_ATTEMPT,
        rows.VERSIONS,
        rows.MONEY,
        rows.TOTALS,
        rows.QC,
    )
    subs, files, attempts, versions, money, totals, checks = link.read_all(
        [(sql, (campaign,)) for sql in queries]
    )
    return Snapshot(
        subs={row[0]: rows.submission(row) for row in subs},
        files_by_key=_grouped([rows.file_record(row) for row in files]),
        attempts_by_key=_grouped([rows.attempt(row) for row in attempts]),
        versions=tuple(rows.file_version(row) for row in versions),
        money_by_key=dict(rows.money(row) for row in money),
        campaign_totals=rows.totals(totals),
        checks=dict(rows.qc_record(row) for row in checks),
    )


def _grouped(records: list[R]) -> dict[str, list[R]]:
    """Records by their key, in the order read."""
    found: dict[str, list[R]] = {}
    for record in records:
        found.setdefault(record.key, []).append(record)
    return found
