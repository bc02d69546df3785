"""Raw export and import of whole campaigns for PostgresStore (see ``transfer``)."""

from __future__ import annotations

from orchestrator.errors import StateError
from orchestrator.state.postgres_base import PostgresBase
from orchestrator.state.transfer import TABLES, UPLOADS, CampaignDump

_NAMES = "SELECT campaign FROM submissions UNION SELECT campaign FROM campaigns ORDER BY 1"


class PostgresTransfer(PostgresBase):
    """Whole campaigns in and out of the schema, each in one transaction."""

    def campaign_names(self) -> list[str]:
        """Every campaign with submissions or money in this schema, sorted."""
        with self._read() as db:
            return [row[0] for row in db.execute(_NAMES)]

    def export_campaign(self, campaign: str) -> CampaignDump:
        """Read every row of ``campaign``, and the upload cache, in one snapshot."""
        with self._write() as db:
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            tables = {
                table: tuple(
                    db.execute(
                        f"SELECT {', '.join(columns)} FROM {table} WHERE campaign = %s",
                        (campaign,),
                    ).fetchall()
                )
                for table, columns in TABLES.items()
            }
            uploads = tuple(db.execute(f"SELECT {', '.join(UPLOADS)} FROM uploads").fetchall())
        return CampaignDump(campaign, tables, uploads)

    def import_campaign(self, dump: CampaignDump) -> None:
        """Insert ``dump`` in one transaction; StateError when the campaign already exists."""
        with self._write() as db, db.cursor() as cursor:
            db.execute("LOCK TABLE campaigns IN SHARE ROW EXCLUSIVE MODE")
            if dump.campaign in [row[0] for row in db.execute(_NAMES)]:
                raise StateError(f"state {self.url.shown} already has campaign {dump.campaign}")
            for table, columns in TABLES.items():
                marks = ", ".join(["%s"] * (len(columns) + 1))
                cursor.executemany(
                    f"INSERT INTO {table} (campaign, {', '.join(columns)}) VALUES ({marks})",
                    [(dump.campaign, *row) for row in dump.tables[table]],
                )
            cursor.executemany(
                f"INSERT INTO uploads ({', '.join(UPLOADS)}) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                list(dump.uploads),
            )
