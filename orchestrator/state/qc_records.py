"""The clip checks' records: one row per checked file (its content hash and the result).

The table is made by migration 5 (``schema.MIGRATIONS``).
"""

from __future__ import annotations

from orchestrator.state.dialect import Link
from orchestrator.state.records import QcRecord

_RECORD = (
    "INSERT INTO qc (campaign, key, idx, sha256, passed, result) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (campaign, key, idx) DO UPDATE SET sha256 = excluded.sha256,"
    " passed = excluded.passed, result = excluded.result"
)
_READ = "SELECT key, idx, sha256, passed, result FROM qc WHERE campaign = ?"


class SharedQc:
    """``record_qc`` and ``qc_results`` of ``Store`` on the store's link."""

    campaign: str
    link: Link

    def record_qc(self, record: QcRecord) -> None:
        """Keep the check of one file (replacing an earlier check of that file)."""
        row = (self.campaign, record.key, record.index, record.sha256, int(record.passed))
        with self.link.transaction():
            self.link.write(_RECORD, (*row, record.result))

    def qc_results(self) -> dict[tuple[str, int], QcRecord]:
        """Every file check of this campaign, by (key, clip index)."""
        found = self.link.execute(_READ, (self.campaign,))
        return {
            (str(r[0]), int(r[1])): QcRecord(str(r[0]), int(r[1]), str(r[2]), bool(r[3]), r[4])
            for r in found
        }
