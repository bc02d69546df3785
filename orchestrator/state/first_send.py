"""A job's first intent in one statement, where the database allows it (PostgreSQL).

The intent is on the way from a free job slot to the next paid request: on a database 10 ms
away, its transaction's two round trips were a third of a hand-over. A first send (pending,
no attempt yet, the lease ours) needs none of ``Steps.begin``'s answers to know what to write,
so one data-modifying statement, committed on its own, does it all: the status and fence
checked under the row's lock, the attempt inserted, its reservation added to the campaign's
totals. When it changes nothing (another status, a lost lease, an attempt row already there),
the caller runs the full transaction, which says why or handles the case.

SQLite has no data-modifying ``WITH``; it takes the full transaction (no round trips there).
"""

from __future__ import annotations

from orchestrator.state.dialect import Link
from orchestrator.state.lifecycle import Status

_FIRST_SEND = (
    "WITH s AS (UPDATE submissions SET status = ?, attempt = 1, reason = NULL,"
    " task_id = NULL, failure = NULL, clip_urls = '[]', image_url = NULL, updated_at = {now}"
    " WHERE campaign = ? AND key = ? AND status = ? AND attempt = 0 AND lease_owner = ?"
    " AND NOT EXISTS (SELECT 1 FROM attempts WHERE campaign = ? AND key = ? AND attempt = 1)"
    " RETURNING campaign, key),"
    " a AS (INSERT INTO attempts (campaign, key, attempt, started_at, reserved, sent_key)"
    " SELECT campaign, key, 1, {now}, ?, ? FROM s RETURNING campaign, reserved),"
    " t AS (INSERT INTO campaigns AS c (campaign, reserved, charged, refunded)"
    " SELECT campaign, reserved, 0, 0 FROM a WHERE reserved <> 0"
    " ON CONFLICT (campaign) DO UPDATE SET reserved = c.reserved + excluded.reserved)"
    " SELECT count(*) FROM a"
)


def first_send(
    link: Link, campaign: str, key: str, owner: str, reserved: int, sent_key: str
) -> bool:
    """Commit attempt 1 of ``key`` in one statement; False when it applied to nothing (or the
    database cannot: SQLite). ``reserved`` is in micro-units."""
    if not link.dialect.modifying_with:
        return False
    sql = _FIRST_SEND.format(now=link.dialect.now)
    args = (Status.SUBMITTING, campaign, key, Status.PENDING, owner, campaign, key)
    rows = link.execute(sql, (*args, reserved, sent_key))
    return bool(rows and int(rows[0][0]))
