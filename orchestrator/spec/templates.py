"""Jinja2 prompt and name templates (the only module that imports jinja2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Sandboxed: CI validates specs from pull requests, and a template must not run code.
_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
_RENDER_ERRORS = (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError)


class TemplateError(Exception):
    """A template does not compile or render; ``line`` is 1-based within the template."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class Template:
    """A compiled template that knows its free variables and caches renders by their values."""

    def __init__(self, source: str) -> None:
        try:
            tree = _ENV.parse(source)
            self._template = _ENV.from_string(tree)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message}", exc.lineno) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template error: {exc.message}") from None
        self.source = source
        self.variables = tuple(sorted(meta.find_undeclared_variables(tree)))
        self._cache: dict[tuple[Any, ...], str] = {}
        self._parts = _plain_parts(tree)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context``; a missing variable or a failing expression: TemplateError."""
        missing = [name for name in self.variables if name not in context]
        if missing:
            raise TemplateError(f"undefined variable {missing[0]!r}")
        if self._parts is not None:  # plain text and {{ name }} only: same output, far faster
            return "".join(str(context[p]) if var else p for var, p in self._parts).strip()
        key = tuple(context[name] for name in self.variables)
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = self._template.render(context).strip()
            except _RENDER_ERRORS as exc:
                raise TemplateError(f"cannot render: {exc}") from None
            self._cache[key] = cached
        return cached


def _plain_parts(tree: nodes.Template) -> list[tuple[bool, str]] | None:
    """Split a template made only of text and ``{{ name }}`` into (is_variable, text) parts."""
    parts: list[tuple[bool, str]] = []
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append((False, node.data))
            elif isinstance(node, nodes.Name) and node.ctx == "load":
                parts.append((True, node.name))
            else:
                return None
    return parts
