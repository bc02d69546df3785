"""The one table of a submission's lifecycle: which action may start from which status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Where a submission stands; the values are what the stores write."""

    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DOWNLOADED = "downloaded"
    FAILED = "failed"


class Action(StrEnum):
    """A change a store makes to a submission; the values read well in error messages."""

    SUBMIT = "submit"
    TASK = "record a task for"
    FOLLOWUP = "record a follow-up task for"
    REJECTED = "record a refusal for"
    RUNNING = "mark running"
    SUCCESS = "record success for"
    FAILURE = "record a failure for"
    FILES = "record files for"
    RESET = "reset"
    ADOPT = "adopt"


@dataclass(frozen=True)
class Transition:
    """The statuses an action may start from, and the status it leaves behind."""

    sources: frozenset[Status]
    target: Status


ANY_STATUS = frozenset(Status)

# Adopting without files leaves the key succeeded (its clips still to download).
TRANSITIONS: Mapping[Action, Transition] = {
    Action.SUBMIT: Transition(
        frozenset({Status.PENDING, Status.SUBMITTING, Status.FAILED}), Status.SUBMITTING
    ),
    Action.TASK: Transition(frozenset({Status.SUBMITTING}), Status.SUBMITTED),
    Action.FOLLOWUP: Transition(frozenset({Status.SUBMITTED, Status.RUNNING}), Status.SUBMITTED),
    Action.REJECTED: Transition(frozenset({Status.SUBMITTING}), Status.PENDING),
    Action.RUNNING: Transition(frozenset({Status.SUBMITTED, Status.RUNNING}), Status.RUNNING),
    Action.SUCCESS: Transition(
        frozenset({Status.SUBMITTED, Status.RUNNING, Status.SUCCEEDED}), Status.SUCCEEDED
    ),
    Action.FAILURE: Transition(ANY_STATUS, Status.FAILED),
    Action.FILES: Transition(frozenset({Status.SUCCEEDED, Status.DOWNLOADED}), Status.DOWNLOADED),
    Action.RESET: Transition(ANY_STATUS, Status.PENDING),
    Action.ADOPT: Transition(ANY_STATUS, Status.DOWNLOADED),
}


def sources(action: Action) -> frozenset[Status]:
    """The statuses ``action`` may start from."""
    return TRANSITIONS[action].sources


def target(action: Action) -> Status:
    """The status ``action`` leaves a submission in."""
    return TRANSITIONS[action].target
