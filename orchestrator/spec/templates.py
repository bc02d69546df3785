"""Prompt and name templates: plain ``{{ name }}`` text formatted directly, the rest by Jinja2."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.spec.problems import did_you_mean

if TYPE_CHECKING:
    import jinja2

# `{{ name }}` and plain text need no Jinja2 at all; most specs hold nothing else, and skipping
# Jinja2's import and compiler keeps `mjv validate` fast. Anything fancier goes to Jinja2.
_PLAIN_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA_MARKS = ("{{", "{%", "{#", "}}", "%}", "#}")
_JINJA_WORDS = frozenset(
    ["and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None"]
)
_MISSING = object()  # a variable the context does not give (Jinja2 may still cope: default)
MAX_OUTPUT_CHARS = 10_000  # of one rendered template
MAX_RENDER_SECONDS = 1.0  # per render; and in all, per template, plus RENDER_ALLOWANCE per render
RENDER_ALLOWANCE = 0.0005  # seconds per render on top: 100,000 jobs of a busy template still fit


class TemplateError(Exception):
    """A template does not compile or render; ``line`` is 1-based within the template."""

    def __init__(self, message: str, line: int = 1, variable: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.variable = variable  # the undefined variable, when that is the problem


class Template:
    """A compiled template that knows its free variables and caches renders by their values."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._cache: dict[tuple[Any, ...], str] = {}
        self._spent = 0.0  # seconds Jinja2 spent rendering this template
        self._renders = 0
        self._slow: TemplateError | None = None  # set once the time budget ran out
        parts = _plain_parts(source)
        self._template: jinja2.Template | None = None
        self._format: str | None = None
        if parts is not None:
            self.variables = tuple(sorted({text for var, text in parts if var}))
            self._format = "".join(_format_part(var, text) for var, text in parts)
        else:
            self._template, self.variables = _compile(source)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context``; an undefined variable, a failure or a limit: TemplateError."""
        if self._format is not None:  # format() of a plain value is its str(), as in Jinja2
            try:
                return _bounded(self._format.format_map(context).strip())
            except KeyError as exc:
                raise _undefined(exc.args[0], context) from None
        key = tuple(context.get(name, _MISSING) for name in self.variables)
        try:
            cached = self._cache.get(key)
        except TypeError:  # an unhashable value: render without the cache
            return self._render(context)
        if cached is None:
            cached = self._render(context)
            self._cache[key] = cached
        return cached

    def _render(self, context: Mapping[str, Any]) -> str:
        from orchestrator.spec import jinja

        assert self._template is not None  # only called for templates that Jinja2 compiled
        if self._slow is not None:  # one slow render would be followed by one per job
            raise self._slow
        self._renders += 1
        budget = MAX_RENDER_SECONDS + RENDER_ALLOWANCE * self._renders - self._spent
        start = time.perf_counter()
        try:
            return jinja.render(self._template, context, min(budget, MAX_RENDER_SECONDS))
        except jinja.JinjaError as exc:
            if exc.variable is not None:
                raise _undefined(exc.variable, context) from None
            error = TemplateError(exc.message, exc.line)
            self._slow = error if exc.slow else None
            raise error from None
        finally:
            self._spent += time.perf_counter() - start


def _undefined(name: str, context: Mapping[str, Any]) -> TemplateError:
    hint = did_you_mean(name, [known for known in context if known != name])
    return TemplateError(f"undefined variable {name!r}{hint}", variable=name)


def _bounded(text: str) -> str:
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateError(
            f"cannot render: the output is longer than {MAX_OUTPUT_CHARS:,} characters"
        )
    return text


def _format_part(variable: bool, text: str) -> str:
    return f"{{{text}}}" if variable else text.replace("{", "{{").replace("}", "}}")


def _plain_parts(source: str) -> list[tuple[bool, str]] | None:
    """Split text with only ``{{ name }}`` tags into (is_variable, text) parts, else None."""
    parts: list[tuple[bool, str]] = []
    position = 0
    for match in _PLAIN_NAME.finditer(source):
        if match.group(1) in _JINJA_WORDS:
            return None
        parts += [(False, source[position : match.start()]), (True, match.group(1))]
        position = match.end()
    parts.append((False, source[position:]))
    texts = (text for var, text in parts if not var)
    if any(mark in text for text in texts for mark in _JINJA_MARKS):
        return None
    return [part for part in parts if part[1]]


def _compile(source: str) -> tuple[jinja2.Template, tuple[str, ...]]:
    from orchestrator.spec import jinja

    try:
        return jinja.compile_template(source)
    except jinja.JinjaError as exc:
        raise TemplateError(exc.message, exc.line) from None
