"""The error tree is documented where it is declared: every error, its place, what it does."""

from __future__ import annotations

import inspect
import re

from orchestrator import errors
from orchestrator.engine import outcomes

ERRORS = {
    name: value
    for name, value in vars(errors).items()
    if inspect.isclass(value) and issubclass(value, errors.MjvError)
}


def _tree() -> dict[str, tuple[int, str]]:
    """Each documented error: (depth in the drawing, the line's text after the name)."""
    found = {}
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^    ([│├└─ ]*)([A-Z]\w*Error)\b(.*)$", line)
        if match:
            found[match.group(2)] = (len(match.group(1)) // 4, match.group(3))
    return found


def test_every_error_is_drawn_once_under_its_base() -> None:
    tree = _tree()
    assert set(tree) == set(ERRORS)
    drawn: list[str] = []  # the path from the root to the current line
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^    ([│├└─ ]*)([A-Z]\w*Error)\b", line)
        if not match:
            continue
        name = match.group(2)
        depth = tree[name][0]
        drawn = [*drawn[:depth], name]
        if depth:
            assert ERRORS[name].__bases__ == (ERRORS[drawn[depth - 1]],), name


def test_the_drawing_says_which_stop_a_run_and_which_are_retryable() -> None:
    for name, (_, text) in _tree().items():
        cls = ERRORS[name]
        if name == "TaskFailedError":  # decided per task, by its kind
            continue
        assert text.rstrip().endswith("stops") == cls.stops_run, name
        assert text.rstrip().endswith("retryable") == cls.retryable, name


def test_the_engines_outcomes_are_not_user_facing_errors() -> None:
    signals = [
        v for v in vars(outcomes).values() if inspect.isclass(v) and v is not outcomes.Outcome
    ]
    assert signals and all(issubclass(v, outcomes.Outcome) for v in signals)
    assert not any(issubclass(v, errors.MjvError) for v in signals)
