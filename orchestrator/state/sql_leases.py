"""Who may work on what, in the SQL store: leases on keys, an account's job slots, budget holds.

Claims are one ``UPDATE ... RETURNING`` each (under concurrent claims the loser re-checks the
WHERE on the winner's row); job slots are picked with ``SKIP LOCKED`` on PostgreSQL. Every
release rings its channel, so a runner waiting for a slot or a lease wakes at once.
"""

from __future__ import annotations

from orchestrator.errors import StateError
from orchestrator.state.dialect import Link
from orchestrator.state.leases import LeaseBook, holder_is_dead
from orchestrator.state.reads import SqlReads
from orchestrator.state.records import to_micros


def slots_channel(account: str) -> str:
    """The channel rung when a job slot of ``account`` is given back."""
    return f"slots:{account}"


def lease_channel(key: str) -> str:
    """The channel rung when the lease on ``key`` is given back or its clips are saved."""
    return f"lease:{key}"


def success_channel(key: str) -> str:
    """The channel rung when the task of ``key`` succeeded (its clips are not saved yet)."""
    return f"succeeded:{key}"


class SqlLeases(SqlReads):
    """The reads and the lease side of ``SqlStore``; see ``Store`` for each method's semantics."""

    def __init__(self, link: Link, campaign: str, book: LeaseBook | None = None) -> None:
        super().__init__(link, campaign)
        self._book = book or LeaseBook()
        self._slot_rows: set[tuple[str, int]] = set()  # (account, limit) whose rows exist
        now = link.dialect.now
        self._claim = (
            f"UPDATE submissions SET lease_owner = ?, lease_until = {now} + ?"
            " WHERE campaign = ? AND key = ? AND (lease_owner IS NULL OR lease_owner = ?"
            f" OR lease_until <= {now} OR lease_owner = ?) RETURNING key"
        )
        self._take_slots = (
            f"UPDATE slots SET owner = ?, until = {now} + ? WHERE (account, slot) IN"
            " (SELECT account, slot FROM slots WHERE account = ? AND slot < ?"
            f" AND (owner IS NULL OR until <= {now} OR owner = ?)"
            f" ORDER BY slot LIMIT ?{link.dialect.skip_locked}) RETURNING slot"
        )
        self._hold = (
            f"INSERT INTO holds AS h (campaign, owner, amount, until) VALUES (?, ?, ?, {now} + ?)"
            " ON CONFLICT (campaign, owner) DO UPDATE SET until = excluded.until, amount ="
            f" CASE WHEN h.until > {now} THEN h.amount + excluded.amount"
            " ELSE excluded.amount END"
        )

    def claim(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease on ``key`` unless another live owner holds it; True when taken."""
        args = (owner, lease_seconds, self.campaign, key, owner)
        if not self.link.execute(self._claim, (*args, None)):
            dead = self._dead_holder(key)
            if dead is None or not self.link.execute(self._claim, (*args, dead)):
                return False
        self._book.took(owner, key)
        return True

    def _dead_holder(self, key: str) -> str | None:
        """The holder of ``key`` when it is a dead process of this host, else None."""
        rows = self.link.execute(
            "SELECT lease_owner FROM submissions WHERE campaign = ? AND key = ?",
            (self.campaign, key),
        )
        if not rows:
            raise StateError(f"{self.link.shown}: {key} was never declared")
        holder = rows[0][0]
        return str(holder) if holder and holder_is_dead(holder) else None

    def renew_leases(self, owner: str, lease_seconds: float) -> frozenset[str]:
        """Push ``owner``'s leases, slots and holds on; return the keys it lost meanwhile."""
        now = self.link.dialect.now
        with self.link.transaction():
            rows = self.link.execute(
                f"UPDATE submissions SET lease_until = {now} + ?"
                " WHERE lease_owner = ? AND campaign = ? RETURNING key",
                (lease_seconds, owner, self.campaign),
            )
            self.link.write(
                f"UPDATE slots SET until = {now} + ? WHERE owner = ?", (lease_seconds, owner)
            )
            self.link.write(
                f"UPDATE holds SET until = {now} + ? WHERE owner = ? AND campaign = ?",
                (lease_seconds, owner, self.campaign),
            )
        return self._book.lost(owner, (row[0] for row in rows))

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s lease on ``key``; a lease held by someone else is left alone."""
        with self.link.transaction():
            self.link.write(
                "UPDATE submissions SET lease_owner = NULL, lease_until = NULL"
                " WHERE campaign = ? AND key = ? AND lease_owner = ?",
                (self.campaign, key, owner),
            )
            self.link.notify(lease_channel(key))
        self._book.dropped(owner, key)

    def release_all(self, owner: str) -> None:
        """Drop every lease, slot and hold ``owner`` has in this campaign (a runner is done)."""
        leases = (
            "UPDATE submissions SET lease_owner = NULL, lease_until = NULL"
            " WHERE lease_owner = ? AND campaign = ? RETURNING key"
        )
        slots = "UPDATE slots SET owner = NULL, until = NULL WHERE owner = ? RETURNING account"
        with self.link.transaction():
            released, freed = self.link.read_all(
                [(leases, (owner, self.campaign)), (slots, (owner,))]
            )
            self.link.write(
                "DELETE FROM holds WHERE owner = ? AND campaign = ?", (owner, self.campaign)
            )
            for row in released:
                self.link.notify(lease_channel(row[0]))
            for account in sorted({row[0] for row in freed}):
                self.link.notify(slots_channel(account))
        self._book.dropped(owner)

    def acquire_slot(
        self, account: str, owner: str, limit: int, lease_seconds: float, wanted: int = 1
    ) -> int:
        """Take up to ``wanted`` of ``account``'s ``limit`` job slots for ``owner``; how many."""
        if (account, limit) not in self._slot_rows:
            self.link.execute_many(
                "INSERT INTO slots (account, slot) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(account, slot) for slot in range(limit)],
            )
            self._slot_rows.add((account, limit))  # slot rows are never deleted
        args = (owner, lease_seconds, account, limit)
        taken = len(self.link.execute(self._take_slots, (*args, None, wanted)))
        if taken < wanted:
            for dead in self._dead_slot_holders(account, limit):
                taken += len(self.link.execute(self._take_slots, (*args, dead, wanted - taken)))
                if taken == wanted:
                    break
        return taken

    def _dead_slot_holders(self, account: str, limit: int) -> list[str]:
        """Holders of ``account``'s slots that are dead processes of this host."""
        rows = self.link.execute(
            "SELECT DISTINCT owner FROM slots WHERE account = ? AND slot < ? AND owner IS NOT NULL",
            (account, limit),
        )
        return [str(row[0]) for row in rows if holder_is_dead(row[0])]

    def slot_holders(self, account: str) -> int:
        """How many runners hold live job slots of ``account`` now (they share its rate)."""
        rows = self.link.execute(
            "SELECT count(DISTINCT owner) FROM slots"
            f" WHERE account = ? AND owner IS NOT NULL AND until > {self.link.dialect.now}",
            (account,),
        )
        return int(rows[0][0]) if rows else 0

    def release_slot(self, account: str, owner: str, count: int = 1) -> None:
        """Give back ``count`` of the job slots ``owner`` holds on ``account``, highest first."""
        with self.link.transaction():
            # One release of the owner at a time, each picking after the one before committed:
            # two at once (two connections of one run) picked the same slot, and the other
            # stayed held, and renewed, until the run's end. (Locking the owner's rows instead
            # could deadlock with the renewal, which locks them in another order.)
            if self.link.dialect.lock_owner:
                self.link.write(self.link.dialect.lock_owner, (f"mjv-slots:{owner}",))
            self.link.write(
                "UPDATE slots SET owner = NULL, until = NULL WHERE account = ? AND slot IN"
                " (SELECT slot FROM slots WHERE account = ? AND owner = ?"
                " ORDER BY slot DESC LIMIT ?)",
                (account, account, owner, count),
            )
            self.link.notify(slots_channel(account))

    def reserve(self, owner: str, amount: float, cap: float, lease_seconds: float) -> bool:
        """Hold ``amount`` for ``owner`` unless spent + reserved + held would pass ``cap``."""
        micros, lock = to_micros(amount), self.link.dialect.lock_row
        with self.link.transaction():
            # The campaign's row lock orders every reservation and money change of the campaign.
            self.link.write(
                "INSERT INTO campaigns (campaign) VALUES (?) ON CONFLICT DO NOTHING",
                (self.campaign,),
            )
            committed = self.link.execute(
                f"SELECT reserved + charged - refunded FROM campaigns WHERE campaign = ?{lock}",
                (self.campaign,),
            )[0][0]
            held = self.link.execute(
                "SELECT coalesce(sum(amount), 0) FROM holds WHERE campaign = ?"
                f" AND until > {self.link.dialect.now}",
                (self.campaign,),
            )[0][0]
            if committed + held + micros > to_micros(cap):
                return False
            self.link.write(self._hold, (self.campaign, owner, micros, lease_seconds))
        return True

    def unreserve(self, owner: str, amount: float) -> None:
        """Give back ``amount`` of what ``owner`` holds (never below zero)."""
        self.link.execute(
            f"UPDATE holds SET amount = {self.link.dialect.greatest}(0, amount - ?)"
            " WHERE campaign = ? AND owner = ?",
            (to_micros(amount), self.campaign, owner),
        )
