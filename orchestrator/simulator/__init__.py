"""A local, faithful simulator of the provider: `mjv simulate`, the tests and `run --simulate`."""

from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.server import Simulator

__all__ = ["Simulator", "SimulatorConfig"]
