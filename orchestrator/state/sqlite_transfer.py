"""Raw export and import of whole campaigns for SqliteStore (see ``transfer``)."""

from __future__ import annotations

from orchestrator.errors import StateError
from orchestrator.state.sqlite_base import SqliteBase
from orchestrator.state.transfer import TABLES, UPLOADS, CampaignDump

_NAMES = "SELECT campaign FROM submissions UNION SELECT campaign FROM campaigns ORDER BY 1"


class SqliteTransfer(SqliteBase):
    """Whole campaigns in and out of the state file, each in one transaction."""

    def campaign_names(self) -> list[str]:
        """Every campaign with submissions or money in this file, sorted."""
        with self._read() as db:
            return [row[0] for row in db.execute(_NAMES)]

    def export_campaign(self, campaign: str) -> CampaignDump:
        """Read every row of ``campaign``, and the upload cache, in one snapshot."""
        with self._write() as db:
            tables = {
                table: tuple(
                    tuple(row)
                    for row in db.execute(
                        f"SELECT {', '.join(columns)} FROM {table} WHERE campaign = ?",
                        (campaign,),
                    )
                )
                for table, columns in TABLES.items()
            }
            uploads = tuple(
                tuple(r) for r in db.execute(f"SELECT {', '.join(UPLOADS)} FROM uploads")
            )
        return CampaignDump(campaign, tables, uploads)

    def import_campaign(self, dump: CampaignDump) -> None:
        """Insert ``dump`` in one transaction; StateError when the campaign already exists."""
        with self._write() as db:
            if dump.campaign in [row[0] for row in db.execute(_NAMES)]:
                raise StateError(f"state file {self.path} already has campaign {dump.campaign}")
            for table, columns in TABLES.items():
                marks = ", ".join("?" * (len(columns) + 1))
                db.executemany(
                    f"INSERT INTO {table} (campaign, {', '.join(columns)}) VALUES ({marks})",
                    [(dump.campaign, *row) for row in dump.tables[table]],
                )
            db.executemany(
                f"INSERT INTO uploads ({', '.join(UPLOADS)}) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                dump.uploads,
            )
