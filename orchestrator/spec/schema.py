"""The campaign JSON Schema, and its errors turned into line-accurate problems."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from orchestrator.spec.problems import JsonPath, did_you_mean
from orchestrator.spec.yamlsource import Document

# The repository's schema/campaign.schema.json; orchestrator/data holds a link to it that
# installed packages (pip install ., pre-commit) carry as a real file.
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "campaign.schema.json"

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@functools.cache
def load_schema() -> dict[str, Any]:
    """Return the campaign schema as parsed JSON."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _is_integer(_checker: object, value: object) -> bool:
    # JSON Schema counts 2.0 as an integer; range(), indexes and fingerprints do not.
    return isinstance(value, int) and not isinstance(value, bool)


_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@functools.cache
def validator() -> Any:
    """Return a validator for the campaign schema (integers must be written as integers)."""
    return _Validator(load_schema())


def schema_validator(schema: dict[str, Any]) -> Any:
    """A validator for another schema of ours (the review file's), with the same integer rule."""
    return _Validator(schema)


def check_schema(doc: Document, checker: Any = None) -> list[JsonPath]:
    """Validate ``doc.data`` (against ``checker``, default the campaign schema), adding one
    problem per error; return the paths that failed."""
    broken: list[JsonPath] = []
    for error in (checker or validator()).iter_errors(doc.data):
        broken.extend(_report(doc, error))
    return broken


def describe_type(value: object) -> str:
    """Name the JSON type of ``value`` the way messages do (``a list``, ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    names = {dict: "a mapping", list: "a list", str: "a string", int: "an integer"}
    return names.get(type(value), "a number" if isinstance(value, float) else type(value).__name__)


def _report(doc: Document, error: ValidationError) -> list[JsonPath]:
    path = tuple(error.absolute_path)
    kind = error.validator
    if path in doc.refused:  # the parser reported (and dropped) this value already
        return [path]
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        schema: Any = error.schema
        known = schema.get("properties", {})
        unknown = [(*path, key) for key in error.instance if key not in known]
        for where in unknown:
            key = where[-1]
            doc.problem(where, f"unknown key {key!r}{did_you_mean(key, known)}", True)
        return unknown
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        key = error.instance  # jsonschema reports a bad key at its mapping's path
        hint = f"must match {error.validator_value}" if kind == "pattern" else error.message
        doc.problem((*path, key), f"invalid name {key!r}: {hint}", True)
        return [(*path, key)]
    doc.problem(path, _message(error))
    return [path]


def _message(error: ValidationError) -> str:
    # jsonschema types these as unions with a sentinel; on a reported error they are all set.
    kind: Any = error.validator
    value: Any = error.instance
    schema: Any = error.schema
    rule: Any = error.validator_value
    if kind in ("anyOf", "oneOf") and "errorMessage" in schema:
        return str(schema["errorMessage"])
    if kind == "required":
        missing = [key for key in rule if key not in value]
        return f"missing required key {missing[0]!r}"
    if kind == "enum":
        choices = ", ".join(repr(choice) for choice in rule)
        return f"{value!r} is not one of {choices}{did_you_mean(value, rule)}"
    if kind == "dependentRequired":
        needed = next(key for key in rule[_first_key(rule, value)] if key not in value)
        return f"{_first_key(rule, value)!r} needs {needed!r}"
    if kind == "const":
        return f"must be {rule!r}, got {value!r}"
    if kind == "type":
        wanted = rule
        names = [_TYPE_NAMES[t] for t in ([wanted] if isinstance(wanted, str) else wanted)]
        return f"expected {' or '.join(names)}, got {describe_type(value)}"
    if kind == "pattern":
        rule_in_words = f": {schema['errorMessage']}" if "errorMessage" in schema else ""
        return f"{value!r} does not match the pattern {rule}{rule_in_words}"
    if kind == "maxItems":
        return f"at most {rule} items allowed, got {len(value)}"
    if kind == "minItems":
        return f"needs at least {rule} item(s), got {len(value)}"
    if kind in ("anyOf", "oneOf") and error.context:
        best = best_match(error.context)
        return _message(best) if best is not None else error.message
    return str(error.message)


def _first_key(rule: dict[str, list[str]], value: dict[str, Any]) -> str:
    """The first present key whose dependencies are missing."""
    return next(k for k, deps in rule.items() if k in value and any(d not in value for d in deps))
