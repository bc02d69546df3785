"""A campaign's results read from the SQL store: a query a question (``SqlReads``), or every
query at once (``Snapshot``).

After a run the manifest, the report and the review used to ask the state some fifteen
questions one after another (a round trip each on PostgreSQL); ``SqlReads.snapshot`` sends its
queries together (``Link.read_all``), reading one snapshot, and ``Snapshot`` answers every read
of ``Reads`` from what came back.
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
_EVERY_SUBMISSION = rows.SUBMISSIONS + " ORDER BY key"
_EVERY_FILE = rows.FILES + " ORDER BY key, idx"
_EVERY_ATTEMPT = rows.ATTEMPTS.replace(" AND key = ?", "").replace("ORDER BY", "ORDER BY key,")


class SqlReads:
    """The reads of ``Store`` on one campaign of a link, a query each (``snapshot``: at once)."""

    def __init__(self, link: Link, campaign: str) -> None:
        self.link = link
        self.campaign = campaign

    def get(self, key: str) -> Submission | None:
        """Return the submission with ``key``, or None when it was never declared."""
        found = self.link.execute(rows.SUBMISSIONS + " AND key = ?", (self.campaign, key))
        return rows.submission(found[0]) if found else None

    def submissions(self) -> list[Submission]:
        """Return every submission of this campaign (orphans included), ordered by key."""
        return [rows.submission(r) for r in self.link.execute(_EVERY_SUBMISSION, (self.campaign,))]

    def files(self, key: str) -> list[FileRecord]:
        """Return the key's recorded files, ordered by index."""
        found = self.link.execute(rows.FILES + " AND key = ? ORDER BY idx", (self.campaign, key))
        return [rows.file_record(row) for row in found]

    def all_files(self) -> dict[str, list[FileRecord]]:
        """Return the recorded files of every key of this campaign, in one query."""
        found = self.link.execute(_EVERY_FILE, (self.campaign,))
        return _grouped([rows.file_record(row) for row in found])

    def attempts(self, key: str) -> list[Attempt]:
        """Return every attempt of ``key``, oldest first."""
        return [rows.attempt(r) for r in self.link.execute(rows.ATTEMPTS, (self.campaign, key))]

    def file_versions(self) -> list[FileVersion]:
        """Return the files submissions of this campaign replaced, by key, attempt and index."""
        return [rows.file_version(r) for r in self.link.execute(rows.VERSIONS, (self.campaign,))]

    def money(self) -> dict[str, Money]:
        """Charged, refunded and reserved money of every key of this campaign, in one query."""
        return dict(rows.money(r) for r in self.link.execute(rows.MONEY, (self.campaign,)))

    def totals(self) -> Totals:
        """Return this campaign's money: spent (charged - refunded), reserved, refunded."""
        return rows.totals(self.link.execute(rows.TOTALS, (self.campaign,)))

    def qc_results(self) -> dict[tuple[str, int], QcRecord]:
        """Every file check of this campaign, by (key, clip index)."""
        return dict(rows.qc_record(r) for r in self.link.execute(rows.QC, (self.campaign,)))

    def snapshot(self) -> Snapshot:
        """Every read of ``Reads`` from one consistent read of this campaign."""
        queries = (
            _EVERY_SUBMISSION,
            _EVERY_FILE,
            _EVERY_ATTEMPT,
            rows.VERSIONS,
            rows.MONEY,
            rows.TOTALS,
            rows.QC,
        )
        subs, files, attempts, versions, money, totals, checks = self.link.read_all(
            [(sql, (self.campaign,)) for sql in queries]
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


def _grouped(records: list[R]) -> dict[str, list[R]]:
    """Records by their key, in the order read."""
    found: dict[str, list[R]] = {}
    for record in records:
        found.setdefault(record.key, []).append(record)
    return found
