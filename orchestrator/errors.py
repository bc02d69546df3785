"""The one exception tree of mjv: every error the core raises derives from MjvError."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_JOBS_FAILED = 3
EXIT_INTERRUPTED = 130


class MjvError(Exception):
    """Base of every mjv error; the CLI turns it into a message and an exit code."""

    exit_code = EXIT_ERROR


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


class StateError(MjvError):
    """The state file is corrupt, too new, or cannot be written."""


class LeaseLostError(StateError):
    """A fenced write came from an owner that no longer holds the submission's lease."""


class ManifestError(MjvError):
    """The manifest file cannot be read (or written) as an mjv manifest."""


class OutputCollisionError(ManifestError):
    """The output folder's manifest belongs to another campaign."""


class ReportError(MjvError):
    """The report cannot be built from its data or written."""


class BudgetError(MjvError):
    """A submission would exceed the campaign's spending cap."""


class DownloadError(MjvError):
    """A clip could not be downloaded or failed its integrity check."""

    retryable = True


# --- provider errors -------------------------------------------------------------------------


class ProviderError(MjvError):
    """An error reported by (or while talking to) the video provider."""

    retryable = False
    stops_run = False


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
