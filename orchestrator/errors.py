"""The one exception tree of mjv: every error the core raises for a user derives from MjvError.

The CLI turns an ``MjvError`` into ``mjv: error: <message>`` and its ``exit_code``; anything
else reaching it is a bug. Two class attributes say what the engine does when a job meets one:
``stops_run`` (no further submission is sent; the summary and the manifest are still written)
and ``retryable`` (trying the same thing again, later, may succeed; otherwise it is final).
They are declared once, on the class; only ``TaskFailedError`` decides per task.
The engine's own control flow (a job failed, stuck, in doubt; a run stopped) is not part of
this tree: see ``engine/outcomes.py``.

    MjvError
    ├── UsageError                 bad command line or path (exit 64)
    ├── SpecError                  the spec is invalid; every problem in ``problems``
    ├── ConfigError                missing or bad API key, base URL, timeouts
    ├── PreflightError             the run could not save what it pays for; nothing sent
    ├── StateError                 the state is corrupt, too new, or cannot be written    stops
    │   └── LeaseLostError         another runner took over a submission (fenced write)
    ├── ManifestError              the manifest cannot be read or written
    │   ├── OutputCollisionError   the output folder belongs to another campaign
    │   └── ManifestNotWrittenError the run ended but its manifest could not be written
    ├── ReportError                the report cannot be built or written
    ├── WorldError                 the simulator's world file cannot be read or written
    ├── BudgetError                a submission would pass ``max_cost``; the job is blocked
    ├── DownloadError              a clip could not be downloaded or verified        retryable
    │   ├── ContentMismatchError   not the recorded content: fetching again won't help
    │   ├── RefusedDownloadError   a malformed clip URL, or a clip over the size cap
    │   └── CannotWriteError       a clip cannot be written (disk full, read-only)       stops
    └── ProviderError              the provider refused, failed, or could not be reached
        ├── AuthenticationError    401/403: bad or revoked key                           stops
        ├── QuotaError             no credit left                                        stops
        ├── RateLimitedError       429; ``retry_after`` when given                   retryable
        ├── QueueFullError         the account's queue is full; not charged          retryable
        │   └── AccountBusyError   the user's CoreSize/QueueSize is full; never final retryable
        ├── NoAccountError         no upstream account available                     retryable
        ├── HdUnavailableError     this account cannot make HD clips
        ├── RefusedError           refused before anything was accepted
        │   ├── AccountLockedError the upstream account is locked                        stops
        │   └── DrawLimitError     the user's daily or total draw limit is reached       stops
        ├── BannedPromptError      a banned word; ``banned_word`` when known
        ├── InvalidRequestError    a request the provider will never accept
        ├── TaskNotFoundError      the provider does not know the task id
        ├── ServerError            5xx, timeout, dropped connection                  retryable
        │   ├── ProviderUnreachableError  no connection at all; nothing was sent     retryable
        │   ├── MalformedAnswerError  a malformed URL or task id, an answer too large retryable
        │   └── RelayError         the gateway could not reach its upstream          retryable
        ├── IdempotencyConflictError  the key is still being processed: ask again    retryable
        ├── SubmitOutcomeUnknownError a submit may have been accepted (and charged)  retryable
        │   └── UnusableAcceptanceError  accepted with a malformed id: left in doubt
        ├── TaskTimeoutError       a task outlived the task timeout (may still finish) retryable
        └── TaskFailedError        a task ended in FAILURE or CANCEL; ``kind`` says why
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.engine.context import RunReport

# One meaning per code, whatever the verb (docs/exit-codes.md). A usage error has a code of its
# own (sysexits' EX_USAGE), so it is never taken for a result such as plan's "work to do".
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_WORK = 2  # `mjv plan`: there is work to do (terraform's -detailed-exitcode)
EXIT_JOBS_FAILED = 3
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a terminated process


class MjvError(Exception):
    """Base of every mjv error; the CLI turns it into a message and an exit code."""

    exit_code = EXIT_ERROR
    retryable = False  # the same call, made again later, may succeed
    stops_run = False  # met by a job, it stops the whole run (nothing more is sent)


class UsageError(MjvError):
    """Bad command-line usage or an unreadable path."""

    exit_code = EXIT_USAGE


class SpecError(MjvError):
    """A campaign spec is invalid; ``problems`` holds every finding."""

    def __init__(self, message: str, problems: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class ConfigError(MjvError):
    """Missing or bad runtime configuration (API key, base URL, timeouts)."""


class PreflightError(MjvError):
    """The run could not save what it would pay for; nothing was submitted."""


class StateError(MjvError):
    """The state file is corrupt, too new, or cannot be written; a run stops on it."""

    stops_run = True


class LeaseLostError(StateError):
    """A fenced write came from an owner that no longer holds the submission's lease.

    Another runner took the submission over: the submitter waits for its result instead.
    """

    stops_run = False


class ManifestError(MjvError):
    """The manifest file cannot be read (or written) as an mjv manifest."""


class OutputCollisionError(ManifestError):
    """The output folder's manifest belongs to another campaign."""


class ManifestNotWrittenError(ManifestError):
    """The run finished but its manifest could not be written; ``report`` is what it did."""

    def __init__(self, message: str, report: RunReport) -> None:
        super().__init__(message)
        self.report = report


class ReportError(MjvError):
    """The report cannot be built from its data or written."""


class WorldError(MjvError):
    """The simulator's world file cannot be read or written."""


class BudgetError(MjvError):
    """A submission would exceed the campaign's spending cap; that job is blocked."""


class DownloadError(MjvError):
    """A clip could not be downloaded or failed its integrity check."""

    retryable = True


class ContentMismatchError(DownloadError):
    """The download is not the recorded content; fetching the same URL again will not help."""

    retryable = False


class RefusedDownloadError(DownloadError):
    """A clip mjv refuses to fetch or keep (a malformed URL, or over the size cap): final."""

    retryable = False


class CannotWriteError(DownloadError):
    """A clip cannot be written (read-only, disk full, permission): the run stops paying.

    The task is paid and recorded: the run keeps saving what it paid for, and a later run
    downloads the rest without submitting.
    """

    retryable = False
    stops_run = True


# --- provider errors -------------------------------------------------------------------------


class ProviderError(MjvError):
    """An error reported by (or while talking to) the video provider."""


class AuthenticationError(ProviderError):
    """HTTP 401/403: the key is missing, wrong or revoked; the run stops."""

    stops_run = True


class QuotaError(ProviderError):
    """``quota_not_enough``: the account has no credit left; the run stops."""

    stops_run = True


class RateLimitedError(ProviderError):
    """HTTP 429; ``retry_after`` is the server's wait in seconds, when it gave one."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueFullError(ProviderError):
    """Envelope code 23 (or 9 with a queue-full text): not charged, back off the account."""

    retryable = True


class AccountBusyError(QueueFullError):
    """trueai's ``并发数已达上限`` / ``队列数已达上限``: the user's CoreSize or QueueSize is full.

    Account-wide and transient, like queue full: fewer slots, retry later, never fail the job.
    """


class NoAccountError(ProviderError):
    """Envelope code 3: no upstream account available (or parent not found); long backoff."""

    retryable = True


class HdUnavailableError(ProviderError):
    """Envelope code 3 on an HD request: this account cannot make HD clips; final for HD jobs."""


class RefusedError(ProviderError):
    """HTTP 200 ``{"success": false, "message": ...}``: refused before anything was accepted."""


class AccountLockedError(RefusedError):
    """The upstream account is locked (banned words): nothing more can be sent; the run stops."""

    stops_run = True


class DrawLimitError(RefusedError):
    """The user's daily or total draw limit is reached: nothing more can be sent; the run stops."""

    stops_run = True


class BannedPromptError(ProviderError):
    """Envelope code 24: the prompt contains a banned word; final for that prompt."""

    def __init__(self, message: str, banned_word: str | None = None) -> None:
        super().__init__(message)
        self.banned_word = banned_word


class InvalidRequestError(ProviderError):
    """Envelope code 4 or an HTTP 400 the provider will never accept: final."""


class TaskNotFoundError(ProviderError):
    """``task_not_found``: the provider does not know that task id; final for that task."""


class ServerError(ProviderError):
    """HTTP 5xx, envelope code 9, a timeout or a dropped connection: retry with backoff."""

    retryable = True


class MalformedAnswerError(ServerError):
    """An answer mjv refuses to use: a malformed URL or task id, or one over the size limit."""


class ProviderUnreachableError(ServerError):
    """No connection to the provider at all (refused, DNS, connect timeout): nothing was sent."""


class RelayError(ServerError):
    """HTTP 400 code 5: the gateway could not talk to its upstream; nothing was charged."""


class IdempotencyConflictError(ProviderError):
    """``idempotency_conflict``: the gateway still processes this key; wait, then ask again."""

    retryable = True


class SubmitOutcomeUnknownError(ProviderError):
    """A transport error during a submit: the job may have been accepted (and charged)."""

    retryable = True


class UnusableAcceptanceError(SubmitOutcomeUnknownError):
    """A submit accepted (maybe charged) with an unusable answer (a malformed task id or URL):
    left in doubt, and not sent again by this run (it would be charged again, for the same)."""

    retryable = False


class TaskTimeoutError(ProviderError):
    """A task stayed non-terminal longer than the task timeout (it may still finish)."""

    retryable = True


class TaskFailedError(ProviderError):
    """A task ended in FAILURE or CANCEL; ``kind`` says why and whether a retry can help.

    ``moderation`` (the content was refused: final, counted as a banned prompt),
    ``start_frame`` (the start image could not be fetched: upload it again, then retry),
    ``timeout`` (the provider gave up on the task, refunded) or ``transient``.
    """

    def __init__(self, message: str, reason: str, kind: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.kind = kind
        self.moderation = kind == "moderation"
        self.retryable = not self.moderation
