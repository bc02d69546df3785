"""How a job's work can end short of done in one run: the engine's own control flow.

These are not errors a user sees: the runner catches each one and records it as the job's
``JobOutcome`` (failed, stuck, in doubt, interrupted) or as the reason the run stopped. They
derive from ``Outcome``, not from ``MjvError``, so no ``except MjvError`` meant for user-facing
errors can swallow them, and one escaping the runner shows as the bug it would be.
"""

from __future__ import annotations


class Outcome(Exception):
    """Base of the engine's control-flow outcomes (never raised to the CLI)."""


class JobFailedError(Outcome):
    """A submission of the job failed for good in this run."""

    def __init__(self, message: str, final: bool) -> None:
        super().__init__(message)
        self.final = final


class JobStuckError(Outcome):
    """A task is still running at the provider past the task timeout; a later run polls it."""


class InDoubtError(Outcome):
    """A submission's intent was recorded but its answer lost, and the run may not resend it."""


class RunStoppedError(Outcome):
    """The run must stop at once (bad key, no quota, too many banned prompts, state lost)."""


class HaltedError(Outcome):
    """The run stopped sending (quota, key, limit, lock, unreachable, cannot save): this
    submission was not sent; the job is kept for a later run."""


class StopRequestedError(Outcome):
    """The user asked the run to stop (Ctrl-C) before this submission was sent."""
