"""Whole campaigns as rows, for copying state between locations (SQLite file <-> PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import StateError
from orchestrator.state.dialect import Link

# Every column but ``campaign``, per table holding a campaign's state; leases are not copied.
_SUBMISSIONS = "key job kind step parent status attempt task_id failure reason clip_urls"
_ATTEMPTS = "key attempt task_id reserved charged refunded outcome reason started_at sent_key"
TABLES: Mapping[str, tuple[str, ...]] = {
    "campaigns": ("reserved", "charged", "refunded"),
    "submissions": (*_SUBMISSIONS.split(" "), "image_url", "updated_at", "request"),
    "attempts": tuple(_ATTEMPTS.split(" ")),
    "files": ("key", "idx", "name", "url", "sha256", "size"),
    "file_versions": ("key", "attempt", "idx", "name", "url", "sha256", "size", "replaced_at"),
}
UPLOADS = ("sha256", "url", "recorded_at")
_NAMES = "SELECT campaign FROM submissions UNION SELECT campaign FROM campaigns ORDER BY 1"

Rows = tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class CampaignDump:
    """One campaign's rows, table by table (without the campaign column), and every upload."""

    campaign: str
    tables: Mapping[str, Rows]
    uploads: Rows


def campaign_names(link: Link) -> list[str]:
    """Every campaign with submissions or money at ``link``, sorted."""
    return [str(row[0]) for row in link.execute(_NAMES)]


def export_campaign(link: Link, campaign: str) -> CampaignDump:
    """Read every row of ``campaign``, and the upload cache, in one snapshot."""
    with link.transaction():
        if link.dialect.snapshot:
            link.write(link.dialect.snapshot)
        tables = {
            table: tuple(
                tuple(row)
                for row in link.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE campaign = ?", (campaign,)
                )
            )
            for table, columns in TABLES.items()
        }
        uploads = tuple(tuple(r) for r in link.execute(f"SELECT {', '.join(UPLOADS)} FROM uploads"))
    return CampaignDump(campaign, tables, uploads)


def import_campaign(link: Link, dump: CampaignDump) -> None:
    """Insert ``dump`` in one transaction; StateError when the campaign already exists."""
    with link.transaction():
        if link.dialect.lock_campaigns:
            link.write(link.dialect.lock_campaigns)
        if dump.campaign in campaign_names(link):
            raise StateError(f"{link.shown} already has campaign {dump.campaign}")
        for table, columns in TABLES.items():
            marks = ", ".join("?" * (len(columns) + 1))
            link.execute_many(
                f"INSERT INTO {table} (campaign, {', '.join(columns)}) VALUES ({marks})",
                [(dump.campaign, *row) for row in dump.tables[table]],
            )
        link.execute_many(
            f"INSERT INTO uploads ({', '.join(UPLOADS)}) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            dump.uploads,
        )
