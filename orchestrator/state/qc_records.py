"""The clip checks' records: one row per checked file (its content hash and the result).

The table is created when first used rather than by a numbered migration: it only adds a
table, and older mjv versions ignore it.
"""

from __future__ import annotations

from orchestrator.errors import StateError
from orchestrator.state.dialect import Link
from orchestrator.state.records import QcRecord

QC_TABLE = """CREATE TABLE IF NOT EXISTS qc (
    campaign TEXT NOT NULL,
    key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    passed INTEGER NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (campaign, key, idx))"""
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
    _qc_ready: bool = False

    def _qc_table(self) -> None:
        if not self._qc_ready:
            with self.link.transaction():
                self.link.write(QC_TABLE)
            self._qc_ready = True

    def record_qc(self, record: QcRecord) -> None:
        """Keep the check of one file (replacing an earlier check of that file)."""
        self._qc_table()
        row = (self.campaign, record.key, record.index, record.sha256, int(record.passed))
        with self.link.transaction():
            self.link.write(_RECORD, (*row, record.result))

    def qc_results(self) -> dict[tuple[str, int], QcRecord]:
        """Every file check of this campaign, by (key, clip index)."""
        try:
            self._qc_table()
        except StateError:  # a state that cannot be written (a copy to look at): none yet
            return {}
        found = self.link.execute(_READ, (self.campaign,))
        return {
            (str(r[0]), int(r[1])): QcRecord(str(r[0]), int(r[1]), str(r[2]), bool(r[3]), r[4])
            for r in found
        }
