"""The state store interface the engine talks to; SQLite and PostgreSQL implement it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol

from orchestrator.state.records import (
    Attempt,
    FileRecord,
    FileVersion,
    Money,
    QcRecord,
    Submission,
    SubmissionSpec,
    Totals,
    UploadRecord,
)


class Reads(Protocol):
    """What a campaign's results are read from: the state itself, or one ``snapshot`` of it."""

    def get(self, key: str) -> Submission | None:
        """Return the submission with ``key``, or None when it was never declared."""

    def submissions(self) -> list[Submission]:
        """Return every submission of this campaign (orphans included), ordered by key."""

    def files(self, key: str) -> list[FileRecord]:
        """Return the key's recorded files, ordered by index."""

    def all_files(self) -> dict[str, list[FileRecord]]:
        """Return the recorded files of every key of this campaign, in one query."""

    def qc_results(self) -> dict[tuple[str, int], QcRecord]:
        """Every clip check of this campaign, by (key, clip index)."""

    def file_versions(self) -> list[FileVersion]:
        """Return the records of files that submissions replaced (never deleted), with attempts.

        ``reset``, ``adopt`` and ``record_files`` keep every file row they replace (unless the
        new files repeat it) here, with the attempt that made it.
        """

    def attempts(self, key: str) -> list[Attempt]:
        """Return every attempt of ``key``, oldest first."""

    def money(self) -> dict[str, Money]:
        """Charged, refunded and reserved money of every key of this campaign, in one query."""

    def totals(self) -> Totals:
        """Return this campaign's money: spent (charged - refunded), reserved, refunded."""


class Store(Reads, Protocol):
    """Durable record of one campaign's submissions; every change is its own transaction.

    Every method raises ``StateError`` when the backend fails, when a key was never declared,
    or when a transition is not allowed from the submission's current status (see
    ``lifecycle.TRANSITIONS``). Result writes take an optional ``owner``: given, the write is
    fenced and raises ``LeaseLostError`` unless ``owner`` holds the key's lease; None (the
    default) writes unfenced.
    """

    wake_poll: float  # seconds between safety checks while waiting for a release
    connections: int  # how many connections a run may use at once (see ``clone``)

    def declare(self, specs: Sequence[SubmissionSpec]) -> None:
        """Insert unknown keys as pending and rename known ones, in one transaction."""

    def claim(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease on ``key`` unless another live owner holds it; True when taken.

        A lease is free when unset, expired, already ``owner``'s, or held by a process of this
        host that no longer exists. Owners are ``"<hostname>:<pid>:<nonce>"`` strings.
        """

    def renew_leases(self, owner: str, lease_seconds: float) -> frozenset[str]:
        """Push ``owner``'s leases, job slots and budget holds to now + ``lease_seconds``.

        Returns the keys ``owner`` claimed through this store but no longer holds (its lease
        expired and another owner took it): the runner must stop working on those.
        """

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s lease on ``key``; a lease held by someone else is left alone."""

    def release_all(self, owner: str) -> None:
        """Drop every lease and hold ``owner`` has in this campaign and its job slots."""

    def acquire_slot(
        self, account: str, owner: str, limit: int, lease_seconds: float, wanted: int = 1
    ) -> int:
        """Take up to ``wanted`` of the ``limit`` job slots of ``account`` (shared by every
        campaign); how many were taken, in one statement (0 when all are held by live owners).

        A slot is leased like a key: renewed by ``renew_leases``, and free again once expired
        or its holder is a dead local process.
        """

    def slot_holders(self, account: str) -> int:
        """How many runners hold live job slots of ``account`` now (they share its rate)."""

    def release_slot(self, account: str, owner: str, count: int = 1) -> None:
        """Give back ``count`` of the job slots ``owner`` holds on ``account`` (in one
        statement; as many as it holds when fewer, none held: no change)."""

    def reserve(self, owner: str, amount: float, cap: float, lease_seconds: float) -> bool:
        """Hold ``amount`` for ``owner`` unless spent + reserved + live holds would pass ``cap``.

        Atomic against every runner of the campaign. Holds are leased like keys (renewed by
        ``renew_leases``; an expired one no longer counts) and dropped by ``release_all``.
        """

    def unreserve(self, owner: str, amount: float) -> None:
        """Give back ``amount`` of what ``owner`` holds (never below zero)."""

    def record_intent(
        self, key: str, owner: str, reserved: float, *, sent_key: str | None = None
    ) -> int:
        """Commit the intent to submit (-> submitting) just before the request is written.

        Always starts a new attempt reserving ``reserved``, sent with the idempotency key
        ``sent_key`` (default ``<key[:32]>-a<attempt>``; an in-doubt resend passes the key of
        the attempt it repeats). An attempt left in doubt keeps its reservation and becomes
        ``in_doubt``: it may have been charged. Allowed from pending, submitting and failed;
        the lease must be ``owner``'s. Returns the new attempt's number.
        """

    def record_task(
        self, key: str, task_id: str, charged: float, *, owner: str | None = None
    ) -> None:
        """The provider accepted the submission (-> submitted); the reservation becomes a charge."""

    def record_followup(
        self, key: str, task_id: str, charged: float = 0.0, *, owner: str | None = None
    ) -> None:
        """The task goes on under a new id (a modal was answered): submitted/running ->
        submitted with ``task_id``, on the same attempt; ``charged`` (the modal answer's
        price) is added to that attempt's charge."""

    def record_rejected(self, key: str, reason: str, *, owner: str | None = None) -> None:
        """The provider refused without charging (-> pending); the reservation is freed."""

    def record_running(self, key: str, *, owner: str | None = None) -> None:
        """The task was seen in progress (-> running); repeating it is harmless."""

    def record_success(
        self,
        key: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        *,
        owner: str | None = None,
    ) -> None:
        """The task finished (-> succeeded) with these clip URLs and grid/still image URL."""

    def record_failure(
        self, key: str, *, final: bool, reason: str, refund: bool, owner: str | None = None
    ) -> None:
        """The submission failed (-> failed, retryable or final); frees the reservation.

        ``refund`` marks the attempt's charge as given back (the gateway refunds FAILURE tasks).
        Allowed from any status; from pending (a refusal given up on, or a job that cannot
        start) no attempt is touched.
        """

    def record_files(
        self, key: str, files: Sequence[FileRecord], *, owner: str | None = None
    ) -> None:
        """Replace the key's downloaded files (-> downloaded); allowed once succeeded."""

    def record_qc(self, record: QcRecord) -> None:
        """Keep the clip check of one file, replacing an earlier check of that file."""

    def check_file(self) -> None:
        """StateError when the backing file was removed or replaced (a no-op without one)."""

    def reset(self, key: str, reason: str) -> None:
        """Send the key back to pending for a new attempt (force, retry, stuck task).

        Clears the task id, failure, URLs and files (their rows move to ``file_versions``);
        keeps the attempt counter, the attempts' history and their money. An in-doubt attempt
        keeps its reservation (it may be charged).
        """

    def adopt(
        self,
        key: str,
        task_id: str,
        clip_urls: Sequence[str],
        image_url: str | None,
        files: Sequence[FileRecord],
    ) -> None:
        """Record work done elsewhere (a committed manifest) as a new, uncharged attempt.

        The key becomes downloaded with ``files``, or succeeded when ``files`` is empty.
        """

    def upload_url(self, sha256: str) -> str | None:
        """Return the URL an image with this content hash was uploaded to, in any campaign."""

    def upload(self, sha256: str) -> UploadRecord | None:
        """Return where and when an image with this content hash was last uploaded."""

    def record_upload(self, sha256: str, url: str) -> None:
        """Remember that the image with this content hash is at ``url`` (uploaded now)."""

    def forget_upload(self, sha256: str) -> None:
        """The uploaded URL is dead (expired or unreachable): the next use uploads again."""

    def snapshot(self) -> Reads:
        """Every read of ``Reads`` answered from one consistent read of this campaign (a few
        round trips): what the manifest, the report and the review are built from."""

    def listening(self, channel: str, callback: Callable[[], None]) -> AbstractContextManager[None]:
        """Have ``callback`` called (from any thread) whenever something is released on
        ``channel``: ``slots:<account>`` (a job slot), ``lease:<key>`` (a lease, or its clips
        saved) or ``succeeded:<key>`` (its task succeeded)."""

    def clone(self) -> Store:
        """The same campaign on another connection (sharing which leases were taken)."""

    def close(self) -> None:
        """Release the backend's connection; the store is unusable afterwards."""

    def __enter__(self) -> Store:
        """Return the store itself."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
