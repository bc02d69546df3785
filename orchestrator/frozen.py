"""Frozen dataclasses made fast, for the few made once per job of a big plan.

A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__`` (about
0.1 us a field: 2 us for a 17-field ``Job``), because its own ``__setattr__`` refuses. A plan of
100,000 jobs makes a ``Job``, an ``Extension`` and a ``PlanRow`` per job: that was a fifth of
`mjv plan`'s time. ``fast_constructor(cls)`` makes the same object through a mutable twin of
``cls`` (the same fields, defaults and slots, so the same memory layout), whose ``__init__``
stores each field directly, then gives it its class: the result is a ``cls`` like any other,
equal to and hashing as ``cls(...)`` would, and frozen from then on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """A function taking ``cls``'s arguments that returns what ``cls(...)`` would, faster.

    ``cls`` must be a frozen dataclass with slots and no ``__post_init__``.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if any(not field.init for field in fields):
        raise TypeError(f"{cls.__name__} has a field outside __init__")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__, which the twin would skip")
    twin: Any = dataclasses.make_dataclass(
        f"_Mutable{cls.__name__}",
        [(f.name, f.type, _default(f)) for f in fields],
        slots=True,
        eq=False,
        repr=False,
    )

    def make(*args: Any, **kwargs: Any) -> T:
        made = twin(*args, **kwargs)
        made.__class__ = cls  # the same slots: the layouts match, as CPython checks
        return made  # type: ignore[no-any-return]

    make.__doc__ = f"``{cls.__name__}(...)``, made faster (see orchestrator.frozen)."
    return make


def _default(field: dataclasses.Field[Any]) -> Any:
    """The twin's field: ``field``'s default or default factory, if it has one."""
    if field.default is not dataclasses.MISSING:
        return dataclasses.field(default=field.default)
    if field.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=field.default_factory)
    return dataclasses.field()
