"""Leases in PostgreSQL: one-statement claims on the database clock, job slots, budget holds."""

from __future__ import annotations

from orchestrator.errors import StateError
from orchestrator.state.leases import holder_is_dead
from orchestrator.state.postgres_base import PostgresBase
from orchestrator.state.postgres_schema import NOW

# One statement: under concurrent claims the loser re-checks the WHERE on the winner's row.
_CLAIM = (
    f"UPDATE submissions SET lease_owner = %(owner)s, lease_until = {NOW} + %(seconds)s"
    " WHERE campaign = %(campaign)s AND key = %(key)s AND (lease_owner IS NULL"
    f" OR lease_owner = %(owner)s OR lease_until <= {NOW} OR lease_owner = %(dead)s)"
    " RETURNING key"
)
_TAKE_SLOT = (
    f"UPDATE slots SET owner = %(owner)s, until = {NOW} + %(seconds)s"
    " WHERE (account, slot) = (SELECT account, slot FROM slots WHERE account = %(account)s"
    f" AND slot < %(limit)s AND (owner IS NULL OR until <= {NOW} OR owner = %(dead)s)"
    " ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING slot"
)
_HOLD = (
    f"INSERT INTO holds AS h (campaign, owner, amount, until) VALUES (%s, %s, %s, {NOW} + %s)"
    " ON CONFLICT (campaign, owner) DO UPDATE SET until = excluded.until, amount ="
    f" CASE WHEN h.until > {NOW} THEN h.amount + excluded.amount ELSE excluded.amount END"
)


class PostgresLeases(PostgresBase):
    """Who may work on what: leases on keys, job slots of an account, money held for a send."""

    def claim(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease on ``key`` unless another live owner holds it; True when taken."""
        args = {"owner": owner, "seconds": lease_seconds, "campaign": self.campaign, "key": key}
        with self._write() as db:
            if db.execute(_CLAIM, {**args, "dead": None}).fetchone() is None:
                dead = self._dead_holder(key)
                if dead is None or db.execute(_CLAIM, {**args, "dead": dead}).fetchone() is None:
                    return False
        self._book.took(owner, key)
        return True

    def _dead_holder(self, key: str) -> str | None:
        """The holder of ``key`` when it is a dead process of this host, else None."""
        row = self._db.execute(
            "SELECT lease_owner FROM submissions WHERE campaign = %s AND key = %s",
            (self.campaign, key),
        ).fetchone()
        if row is None:
            raise StateError(f"state {self.url.shown}: {key} was never declared")
        return row[0] if row[0] and holder_is_dead(row[0]) else None

    def renew_leases(self, owner: str, lease_seconds: float) -> frozenset[str]:
        """Push ``owner``'s leases, slots and holds on; return the keys it lost meanwhile."""
        with self._write() as db:
            rows = db.execute(
                f"UPDATE submissions SET lease_until = {NOW} + %s"
                " WHERE lease_owner = %s AND campaign = %s RETURNING key",
                (lease_seconds, owner, self.campaign),
            ).fetchall()
            db.execute(
                f"UPDATE slots SET until = {NOW} + %s WHERE owner = %s", (lease_seconds, owner)
            )
            db.execute(
                f"UPDATE holds SET until = {NOW} + %s WHERE owner = %s AND campaign = %s",
                (lease_seconds, owner, self.campaign),
            )
        return self._book.lost(owner, (row[0] for row in rows))

    def acquire_slot(self, account: str, owner: str, limit: int, lease_seconds: float) -> bool:
        """Take one of ``account``'s ``limit`` job slots for ``owner``; False when all are busy."""
        args = {"account": account, "owner": owner, "seconds": lease_seconds, "limit": limit}
        with self._write() as db:
            db.execute(
                "INSERT INTO slots (account, slot) SELECT %s, n FROM generate_series(0, %s - 1) n"
                " ON CONFLICT DO NOTHING",
                (account, limit),
            )
        with self._write() as db:
            if db.execute(_TAKE_SLOT, {**args, "dead": None}).fetchone() is not None:
                return True
            for dead in self._dead_slot_holders(account, limit):
                if db.execute(_TAKE_SLOT, {**args, "dead": dead}).fetchone() is not None:
                    return True
        return False

    def _dead_slot_holders(self, account: str, limit: int) -> list[str]:
        """Holders of ``account``'s slots that are dead processes of this host."""
        rows = self._db.execute(
            "SELECT DISTINCT owner FROM slots WHERE account = %s AND slot < %s"
            " AND owner IS NOT NULL",
            (account, limit),
        )
        return [row[0] for row in rows if holder_is_dead(row[0])]

    def slot_holders(self, account: str) -> int:
        """How many runners hold live job slots of ``account`` now (they share its rate)."""
        with self._read() as db:
            row = db.execute(
                "SELECT count(DISTINCT owner) FROM slots"
                f" WHERE account = %s AND owner IS NOT NULL AND until > {NOW}",
                (account,),
            ).fetchone()
        return 0 if row is None else int(row[0])

    def release_slot(self, account: str, owner: str) -> None:
        """Give back one of the job slots ``owner`` holds on ``account`` (none: no change)."""
        with self._write() as db:
            db.execute(
                "UPDATE slots SET owner = NULL, until = NULL WHERE account = %s AND slot ="
                " (SELECT max(slot) FROM slots WHERE account = %s AND owner = %s)",
                (account, account, owner),
            )

    def reserve(self, owner: str, amount: float, cap: float, lease_seconds: float) -> bool:
        """Hold ``amount`` for ``owner`` unless spent + reserved + held would pass ``cap``."""
        micros = round(amount * 1_000_000)
        with self._write() as db:
            # The campaign's row lock orders every reservation and money change of the campaign.
            db.execute(
                "INSERT INTO campaigns (campaign) VALUES (%s) ON CONFLICT DO NOTHING",
                (self.campaign,),
            )
            committed = db.execute(
                "SELECT reserved + charged - refunded FROM campaigns WHERE campaign = %s"
                " FOR UPDATE",
                (self.campaign,),
            ).fetchone()
            held = db.execute(
                f"SELECT coalesce(sum(amount), 0) FROM holds WHERE campaign = %s AND until > {NOW}",
                (self.campaign,),
            ).fetchone()
            assert committed is not None and held is not None  # aggregates always give a row
            if committed[0] + held[0] + micros > round(cap * 1_000_000):
                return False
            db.execute(_HOLD, (self.campaign, owner, micros, lease_seconds))
        return True

    def unreserve(self, owner: str, amount: float) -> None:
        """Give back ``amount`` of what ``owner`` holds (never below zero)."""
        with self._write() as db:
            db.execute(
                "UPDATE holds SET amount = greatest(0, amount - %s)"
                " WHERE campaign = %s AND owner = %s",
                (round(amount * 1_000_000), self.campaign, owner),
            )
