"""How a job's work can end short of done in one run: the engine's own exceptions."""

from __future__ import annotations

from orchestrator.errors import MjvError


class JobFailedError(MjvError):
    """A submission of the job failed for good in this run."""

    def __init__(self, message: str, final: bool) -> None:
        super().__init__(message)
        self.final = final


class JobStuckError(MjvError):
    """A task is still running at the provider past the task timeout; a later run polls it."""


class InDoubtError(MjvError):
    """A submission's intent was recorded but its answer lost, and the run may not resend it."""


class RunStoppedError(MjvError):
    """The run must stop at once (bad key, no quota, too many banned prompts)."""


class StopRequestedError(MjvError):
    """The user asked the run to stop (Ctrl-C) before this submission was sent."""
