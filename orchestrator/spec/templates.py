"""Jinja2 prompt and name templates (the only module that imports jinja2)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

# `{{ name }}` and plain text need no Jinja2 at all; most specs hold nothing else, and skipping
# Jinja2's import and compiler keeps `mjv validate` fast. Anything fancier goes to Jinja2.
_PLAIN_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA_MARKS = ("{{", "{%", "{#", "}}", "%}", "#}")
_JINJA_WORDS = frozenset(
    ["and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None"]
)


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
        parts = _plain_parts(source)
        self._template: jinja2.Template | None = None
        self._format: str | None = None
        if parts is not None:
            self.variables = tuple(sorted({text for var, text in parts if var}))
            self._format = "".join(_format_part(var, text) for var, text in parts)
        else:
            self._template, self.variables = _compile(source)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context``; a missing variable or a failing expression: TemplateError."""
        if self._format is not None:  # format() of a plain value is its str(), as in Jinja2
            try:
                return self._format.format_map(context).strip()
            except KeyError as exc:
                name = exc.args[0]
                raise TemplateError(f"undefined variable {name!r}", variable=name) from None
        missing = [name for name in self.variables if name not in context]
        if missing:
            raise TemplateError(f"undefined variable {missing[0]!r}", variable=missing[0])
        key = tuple(context[name] for name in self.variables)
        try:
            cached = self._cache.get(key)
        except TypeError:  # an unhashable value: render without the cache
            return _render(self._template, context)
        if cached is None:
            cached = _render(self._template, context)
            self._cache[key] = cached
        return cached


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


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # Sandboxed: CI validates specs from pull requests, and a template must not run code.
    return ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


def _compile(source: str) -> tuple[jinja2.Template, tuple[str, ...]]:
    import jinja2
    from jinja2 import meta

    env = _environment()
    try:
        tree = env.parse(source)
        template = env.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", exc.lineno) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error: {exc.message}") from None
    return template, tuple(sorted(meta.find_undeclared_variables(tree)))


def _render(template: jinja2.Template | None, context: Mapping[str, Any]) -> str:
    import jinja2

    assert template is not None  # only called for templates that Jinja2 compiled
    try:
        return template.render(context).strip()
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateError(f"cannot render: {exc}") from None
