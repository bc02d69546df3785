"""Matrix axes ``qc_<rule>``: each value checked against the ``qc:`` section's schema."""

from __future__ import annotations

from typing import Any

import jsonschema

from orchestrator.qc.rules import MATRIX_PREFIX, RULE_NAMES
from orchestrator.spec.problems import JsonPath, did_you_mean
from orchestrator.spec.schema import load_schema
from orchestrator.spec.yamlsource import Document

__all__ = ["MATRIX_PREFIX", "check_matrix_rule"]


def check_matrix_rule(doc: Document, path: JsonPath, axis: str, value: Any) -> None:
    """A ``qc_<rule>`` axis names a rule and each of its values is one the rule takes."""
    rule = axis[len(MATRIX_PREFIX) :]
    if rule not in RULE_NAMES:
        doc.problem(path[:-1], f"unknown qc rule {rule!r}{did_you_mean(rule, RULE_NAMES)}", True)
        return
    schema = load_schema()["$defs"]["qc"]["properties"][rule]
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(value)
    )
    if error is not None:
        doc.problem(path, f"qc {rule}: {error.message}")
