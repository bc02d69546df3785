"""Campaign specs: load a YAML spec into a validated, expanded ``Campaign``."""

from orchestrator.spec.loader import check_spec, load_campaign, validate_spec
from orchestrator.spec.problems import Problem

__all__ = ["Problem", "check_spec", "load_campaign", "validate_spec"]
