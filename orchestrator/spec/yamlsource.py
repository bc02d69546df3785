"""YAML to plain values, remembering where every value and key sits in the source."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from orchestrator.spec.problems import JsonPath, Problem, json_path

# The C composer is several times faster; values are built here so positions survive.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = SafeConstructor()
_TEXT_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}
_TEMPLATE_LINES = 50  # how far a multi-line template is searched for a variable
_MAX_NODES = 1_000_000  # alias bombs expand exponentially; stop long before memory runs out
_MAX_INT = 2**63  # no count, price or setting comes near; bigger ones break float arithmetic
MAX_DEPTH = 64  # nesting of mappings and lists; real specs need 6, deeper ones exhaust the stack
_FLOW_OPENERS = {"flow sequence": "[", "flow mapping": "{"}


@dataclass
class Document:
    """A parsed YAML file: its value plus 1-based (line, col) of each value and mapping key."""

    file: str
    data: Any = None
    values: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    broken: set[JsonPath] = field(default_factory=set)  # names whose definition failed the schema
    refused: set[JsonPath] = field(default_factory=set)  # values already reported while parsing
    lines: list[str] = field(default_factory=list)  # the source text, to point inside templates

    def locate(self, path: JsonPath, key: bool = False) -> tuple[int, int]:
        """Position of the value (or key) at ``path``, else of its nearest located parent."""
        if key and path in self.keys:
            return self.keys[path]
        while path and path not in self.values:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def problem(
        self, path: JsonPath, message: str, key: bool = False, at: tuple[int, int] | None = None
    ) -> None:
        """Record a problem at ``at``, else at the source position of ``path``."""
        line, col = at or self.locate(path, key)
        self.problems.append(Problem(self.file, line, col, json_path(path), message))

    def find_in_template(self, path: JsonPath, name: str) -> tuple[int, int]:
        """Position of the first template tag using ``name`` in the value at ``path``."""
        line, col = self.locate(path)
        pattern = re.compile(r"\{[{%][^}]*?\b(" + re.escape(name) + r")\b")
        for number in range(line, min(line + _TEMPLATE_LINES, len(self.lines) + 1)):
            start = col - 1 if number == line else 0
            match = pattern.search(self.lines[number - 1], start)
            if match:
                return number, match.start(1) + 1
        return line, col


def parse_yaml(file: str, raw: bytes) -> Document:
    """Parse ``raw`` YAML bytes; syntax and structure problems land in ``Document.problems``."""
    doc = Document(file)
    text = _decode(doc, raw)
    if text is None:
        return doc
    doc.lines = text.splitlines()
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        doc.problems.append(_syntax_problem(file, exc, text))
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(file, 1, 1, "$", f"YAML error: {exc}"))
        return doc
    if node is None:
        doc.problems.append(Problem(file, 1, 1, "$", "the file is empty"))
        return doc
    try:
        doc.data = _Builder(doc).build(node, ())
    except _TooBigError:
        message = f"the document expands to over {_MAX_NODES} values (a YAML alias bomb?)"
        doc.problems.append(Problem(file, 1, 1, "$", message))
    return doc


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = f"YAML syntax error: {exc.problem or exc.context}"
    start = exc.context_mark
    opener = _unclosed(exc.context or "")
    if opener and exc.problem and start is not None:
        where = f"line {start.line + 1}, column {start.column + 1}"
        message = f"YAML syntax error: unclosed {opener} opened at {where} ({exc.problem})"
    elif exc.problem and exc.context and start is not None and start.line + 1 != line:
        message += f" ({exc.context} started at line {start.line + 1}, column {start.column + 1})"
    lines = text.splitlines()
    if line <= len(lines) and lines[line - 1][col - 1 : col] == "\t":
        message += " (a tab? YAML indents with spaces only)"
    return Problem(file, line, col, "$", message)


def _unclosed(context: str) -> str | None:
    """The bracket of the flow collection a YAML error context names, if any."""
    return next((b for kind, b in _FLOW_OPENERS.items() if f"parsing a {kind}" in context), None)


def _decode(doc: Document, raw: bytes) -> str | None:
    if b"\x00" in raw[:8192]:
        doc.problems.append(Problem(doc.file, 1, 1, "$", "not a text file (binary data)"))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        doc.problems.append(
            Problem(doc.file, 1, 1, "$", f"not UTF-8 text (bad byte at offset {exc.start})")
        )
        return None


class _Builder:
    """Turns a composed node tree into dicts, lists and scalars, recording marks."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise _TooBigError
        self.doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if len(path) >= MAX_DEPTH:
            return self.too_deep(path)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            self.doc.problem(path, "recursive YAML alias")
            return None
        if node.tag not in _COLLECTION_TAGS:
            self.doc.problem(path, f"unsupported YAML tag {node.tag}")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def too_deep(self, path: JsonPath) -> None:
        """Drop what lies below MAX_DEPTH; report it once, at the top-level entry holding it."""
        top = path[:2]
        if top not in self.doc.refused:
            message = f"mappings and lists are nested deeper than {MAX_DEPTH} levels"
            self.doc.problem(top, message, at=self.doc.values[path])
            self.doc.refused.add(top)

    def scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        if node.tag in _TEXT_TAGS:
            return node.value
        construct = _CONSTRUCTOR.yaml_constructors.get(node.tag)
        if construct is None:
            self.doc.problem(path, f"unsupported YAML tag {node.tag}")
            return node.value
        try:
            value = construct(_CONSTRUCTOR, node)
        except (yaml.YAMLError, ValueError, KeyError, TypeError) as exc:  # e.g. !!int "x"
            return self.refuse(path, node, f"cannot be read as {node.tag}: {exc}")
        if isinstance(value, float) and not math.isfinite(value):
            return self.refuse(path, node, "is not a finite number (NaN and infinity are refused)")
        if isinstance(value, int) and abs(value) > _MAX_INT:
            return self.refuse(path, node, "is too large (the limit is 2**63)")
        return value

    def refuse(self, path: JsonPath, node: yaml.ScalarNode, why: str) -> None:
        """Report a value here and drop it; the schema check stays quiet about the gap."""
        text = node.value if len(node.value) <= 40 else node.value[:37] + "..."
        self.doc.problem(path, f"{text!r} {why}")
        self.doc.refused.add(path)

    def mapping(self, node: yaml.Node, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node, merged in self.pairs(node, path):
            if not isinstance(key_node, yaml.ScalarNode):
                self.doc.problem(path, "mapping keys must be plain scalars")
            elif not (merged and str(key_node.value) in result):
                self.entry(result, key_node, value_node, path)
        return result

    def pairs(self, node: yaml.Node, path: JsonPath) -> list[tuple[yaml.Node, yaml.Node, bool]]:
        """Key/value nodes of a mapping, merge keys (<<) flattened after the explicit keys."""
        explicit = [(k, v, False) for k, v in node.value if k.tag != _MERGE_TAG]
        merged: list[tuple[yaml.Node, yaml.Node, bool]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                if not isinstance(source, yaml.MappingNode) or id(source) in self.active:
                    self.doc.problem(path, "a YAML merge key (<<) needs a mapping")
                    continue
                self.active.add(id(source))
                merged.extend((k, v, True) for k, v, _ in self.pairs(source, path))
                self.active.discard(id(source))
        return explicit + merged

    def entry(
        self, result: dict[str, Any], key: yaml.ScalarNode, value: yaml.Node, path: JsonPath
    ) -> None:
        name = str(key.value)
        where = (*path, name)
        position = (key.start_mark.line + 1, key.start_mark.column + 1)
        if name in result:
            first = self.doc.keys[where]
            message = f"duplicate key {name!r} (first defined at line {first[0]})"
            self.doc.problems.append(Problem(self.doc.file, *position, json_path(where), message))
            return
        self.doc.keys[where] = position
        result[name] = self.build(value, where)


class _TooBigError(Exception):
    """The document expands to more nodes than any real spec has."""
