"""SqliteStore: the Store on one SQLite file (WAL), each change its own committed transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from orchestrator.errors import StateError
from orchestrator.state.leases import holder_is_dead
from orchestrator.state.records import (
    Attempt,
    FileRecord,
    Money,
    Submission,
    SubmissionSpec,
    Totals,
    UploadRecord,
)
from orchestrator.state.schema import connect
from orchestrator.state.sqlite_base import (
    ANY_STATUS,
    FILES_QUERY,
    MICROS,
    SUBMISSION_QUERY,
    SqliteBase,
    file_from_row,
    submission_from_row,
    to_micros,
)

_DECLARE = (
    "INSERT INTO submissions (campaign, key, job, kind, step, parent, status, updated_at, request)"
    " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
    " ON CONFLICT (campaign, key) DO UPDATE SET job = excluded.job,"
    " request = coalesce(excluded.request, request)"
    " WHERE job != excluded.job OR request IS NOT excluded.request"
)
_CLEARED = {"task_id": None, "failure": None, "clip_urls": "[]", "image_url": None}


def open_store(path: Path, campaign: str, *, clock: Callable[[], float] = time.time) -> SqliteStore:
    """Open (creating or migrating) the state file at ``path`` for ``campaign``."""
    path = Path(path)  # tolerate a str from callers that skip the CLI's conversion
    return SqliteStore(connect(path), path, campaign, clock)


class SqliteStore(SqliteBase):
    """The SQLite implementation of ``Store``; see ``Store`` for each method's semantics."""

    def declare(self, specs: Sequence[SubmissionSpec]) -> None:
        """Insert unknown keys as pending and rename known ones, in one transaction."""
        now = self._clock()
        rows = [
            (self.campaign, s.key, s.job, s.kind, s.step, s.parent, now, s.request) for s in specs
        ]
        with self._write() as db:
            db.executemany(_DECLARE, rows)

    def get(self, key: str) -> Submission | None:
        """Return the submission with ``key``, or None when it was never declared."""
        with self._read() as db:
            row = db.execute(SUBMISSION_QUERY + " AND key = ?", (self.campaign, key)).fetchone()
        return None if row is None else submission_from_row(row)

    def submissions(self) -> list[Submission]:
        """Return every submission of this campaign (orphans included), ordered by key."""
        with self._read() as db:
            rows = db.execute(SUBMISSION_QUERY + " ORDER BY key", (self.campaign,)).fetchall()
        return [submission_from_row(row) for row in rows]

    def claim(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease on ``key`` unless another live owner holds it; True when taken."""
        with self._write() as db:
            row = db.execute(
                "SELECT lease_owner, lease_until FROM submissions WHERE campaign = ? AND key = ?",
                (self.campaign, key),
            ).fetchone()
            if row is None:
                raise StateError(f"state file {self.path}: {key} was never declared")
            holder, until = row
            now = self._clock()
            if holder not in (None, owner) and (until or 0) > now and not holder_is_dead(holder):
                return False
            db.execute(
                "UPDATE submissions SET lease_owner = ?, lease_until = ?"
                " WHERE campaign = ? AND key = ?",
                (owner, now + lease_seconds, self.campaign, key),
            )
            return True

    def renew_leases(self, owner: str, lease_seconds: float) -> None:
        """Push every lease ``owner`` holds in this campaign to now + ``lease_seconds``."""
        with self._write() as db:
            db.execute(
                "UPDATE submissions SET lease_until = ? WHERE lease_owner = ? AND campaign = ?",
                (self._clock() + lease_seconds, owner, self.campaign),
            )

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s lease on ``key``; a lease held by someone else is left alone."""
        with self._write() as db:
            db.execute(
                "UPDATE submissions SET lease_owner = NULL, lease_until = NULL"
                " WHERE campaign = ? AND key = ? AND lease_owner = ?",
                (self.campaign, key, owner),
            )

    def release_all(self, owner: str) -> None:
        """Drop every lease ``owner`` holds in this campaign (a runner that is done)."""
        with self._write() as db:
            db.execute(
                "UPDATE submissions SET lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = ? AND campaign = ?",
                (owner, self.campaign),
            )

    def record_intent(
        self, key: str, owner: str, reserved: float, *, sent_key: str | None = None
    ) -> int:
        """Commit the intent to submit (-> submitting); returns the new attempt's number."""
        with self._write() as db:
            allowed = ("pending", "submitting", "failed")
            status, attempt, holder = self._expect(db, key, allowed, "submit")
            if holder != owner:
                raise StateError(f"cannot submit {key}: its lease is held by {holder}, not {owner}")
            self._abandon(db, key, status, attempt, f"sent again as attempt {attempt + 1}")
            attempt += 1
            self._start_attempt(db, key, attempt)
            self._set_attempt(
                db,
                key,
                attempt,
                reserved=to_micros(reserved),
                task_id=None,
                outcome=None,
                sent_key=sent_key or f"{key[:32]}-a{attempt}",
            )
            self._update(db, key, status="submitting", attempt=attempt, reason=None, **_CLEARED)
            return attempt

    def record_task(self, key: str, task_id: str, charged: float) -> None:
        """The provider accepted the submission (-> submitted); the reservation becomes a charge."""
        with self._write() as db:
            _, attempt, _ = self._expect(db, key, ("submitting",), "record a task for")
            self._set_attempt(
                db, key, attempt, task_id=task_id, reserved=0, charged=to_micros(charged)
            )
            self._update(db, key, status="submitted", task_id=task_id)

    def record_followup(self, key: str, task_id: str, charged: float = 0.0) -> None:
        """The task goes on under a new id (a modal was answered): polls follow the new one."""
        with self._write() as db:
            allowed = ("submitted", "running")
            _, attempt, _ = self._expect(db, key, allowed, "record a follow-up task for")
            extra = to_micros(charged) + self._charged(key, attempt)
            self._set_attempt(db, key, attempt, task_id=task_id, charged=extra)
            self._update(db, key, status="submitted", task_id=task_id)

    def record_rejected(self, key: str, reason: str) -> None:
        """The provider refused the submission without charging (-> pending)."""
        with self._write() as db:
            _, attempt, _ = self._expect(db, key, ("submitting",), "record a refusal for")
            self._set_attempt(db, key, attempt, reserved=0, outcome="rejected", reason=reason)
            self._update(db, key, status="pending", reason=reason)

    def record_running(self, key: str) -> None:
        """The task was seen in progress (-> running); repeating it is harmless."""
        with self._write() as db:
            self._expect(db, key, ("submitted", "running"), "mark running")
            self._update(db, key, status="running")

    def record_success(self, key: str, clip_urls: Sequence[str], image_url: str | None) -> None:
        """The task finished (-> succeeded) with these clip URLs and image URL."""
        with self._write() as db:
            allowed = ("submitted", "running", "succeeded")
            _, attempt, _ = self._expect(db, key, allowed, "record success for")
            self._set_attempt(db, key, attempt, outcome="succeeded", reason=None)
            urls = json.dumps(list(clip_urls))
            self._update(db, key, status="succeeded", clip_urls=urls, image_url=image_url)

    def record_failure(self, key: str, *, final: bool, reason: str, refund: bool) -> None:
        """The submission failed (-> failed); frees the reservation, optionally refunds."""
        with self._write() as db:
            status, attempt, _ = self._expect(db, key, ANY_STATUS, "record a failure for")
            # A pending key has no attempt in flight (never sent, or its refusal was recorded).
            if status != "pending":
                money = {"reserved": 0}
                if refund:
                    money["refunded"] = self._charged(key, attempt)
                self._set_attempt(db, key, attempt, outcome="failed", reason=reason, **money)
            failure = "final" if final else "retryable"
            self._update(db, key, status="failed", failure=failure, reason=reason)

    def _charged(self, key: str, attempt: int) -> int:
        """The charge of one attempt in micro-units (0 when it has none)."""
        row = self._db.execute(
            "SELECT charged FROM attempts WHERE campaign = ? AND key = ? AND attempt = ?",
            (self.campaign, key, attempt),
        ).fetchone()
        return 0 if row is None else int(row[0])

    def record_files(self, key: str, files: Sequence[FileRecord]) -> None:
        """Replace the key's downloaded files (-> downloaded)."""
        with self._write() as db:
            self._expect(db, key, ("succeeded", "downloaded"), "record files for")
            self._replace_files(db, key, files)
            self._update(db, key, status="downloaded")

    def files(self, key: str) -> list[FileRecord]:
        """Return the key's recorded files, ordered by index."""
        with self._read() as db:
            rows = db.execute(FILES_QUERY + " AND key = ? ORDER BY idx", (self.campaign, key))
            return [file_from_row(row) for row in rows]

    def all_files(self) -> dict[str, list[FileRecord]]:
        """Return the recorded files of every key of this campaign, in one query."""
        found: dict[str, list[FileRecord]] = {}
        with self._read() as db:
            for row in db.execute(FILES_QUERY + " ORDER BY key, idx", (self.campaign,)):
                found.setdefault(row[0], []).append(file_from_row(row))
        return found

    def reset(self, key: str, reason: str) -> None:
        """Send the key back to pending for a new attempt; history and money are kept."""
        with self._write() as db:
            status, attempt, _ = self._expect(db, key, ANY_STATUS, "reset")
            self._abandon(db, key, status, attempt, reason)
            self._replace_files(db, key, ())
            self._update(db, key, status="pending", reason=reason, **_CLEARED)

    def adopt(
        self,
        key: str,
        task_id: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        files: Sequence[FileRecord],
    ) -> None:
        """Record work done elsewhere as a new, uncharged attempt (-> downloaded or succeeded)."""
        with self._write() as db:
            status, attempt, _ = self._expect(db, key, ANY_STATUS, "adopt")
            self._abandon(db, key, status, attempt, "adopted from a manifest")
            self._start_attempt(db, key, attempt + 1)
            self._set_attempt(db, key, attempt + 1, task_id=task_id, outcome="adopted")
            self._replace_files(db, key, files)
            self._update(
                db,
                key,
                status="downloaded" if files else "succeeded",
                attempt=attempt + 1,
                task_id=task_id,
                failure=None,
                reason=None,
                clip_urls=json.dumps(list(clip_urls)),
                image_url=image_url,
            )

    def attempts(self, key: str) -> list[Attempt]:
        """Return every attempt of ``key``, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT key, attempt, task_id, reserved, charged, refunded, outcome, reason,"
                " sent_key FROM attempts WHERE campaign = ? AND key = ? ORDER BY attempt",
                (self.campaign, key),
            ).fetchall()
        return [
            Attempt(r[0], r[1], r[2], r[3] / MICROS, r[4] / MICROS, r[5] / MICROS, r[6], r[7], r[8])
            for r in rows
        ]

    def upload_url(self, sha256: str) -> str | None:
        """Return the URL an image with this content hash was uploaded to, in any campaign."""
        record = self.upload(sha256)
        return None if record is None else record.url

    def upload(self, sha256: str) -> UploadRecord | None:
        """Return where and when an image with this content hash was last uploaded."""
        with self._read() as db:
            row = db.execute(
                "SELECT url, recorded_at FROM uploads WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return None if row is None else UploadRecord(sha256, str(row[0]), float(row[1]))

    def record_upload(self, sha256: str, url: str) -> None:
        """Remember that the image with this content hash is at ``url`` (uploaded now)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO uploads (sha256, url, recorded_at) VALUES (?, ?, ?)"
                " ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,"
                " recorded_at = excluded.recorded_at",
                (sha256, url, self._clock()),
            )

    def forget_upload(self, sha256: str) -> None:
        """The uploaded URL is dead (expired or unreachable): the next use uploads again."""
        with self._write() as db:
            db.execute("DELETE FROM uploads WHERE sha256 = ?", (sha256,))

    def money(self) -> dict[str, Money]:
        """Charged, refunded and reserved money of every key of this campaign, in one query."""
        with self._read() as db:
            rows = db.execute(
                "SELECT key, sum(charged), sum(refunded), sum(reserved) FROM attempts"
                " WHERE campaign = ? GROUP BY key",
                (self.campaign,),
            ).fetchall()
        return {r[0]: Money(r[1] / MICROS, r[2] / MICROS, r[3] / MICROS) for r in rows}

    def totals(self) -> Totals:
        """Return this campaign's money: spent (charged - refunded), reserved, refunded."""
        with self._read() as db:
            row = db.execute(
                "SELECT reserved, charged, refunded FROM campaigns WHERE campaign = ?",
                (self.campaign,),
            ).fetchone()
        reserved, charged, refunded = row or (0, 0, 0)
        return Totals((charged - refunded) / MICROS, reserved / MICROS, refunded / MICROS)

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        """Return the store itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()
