"""Knobs of the simulator: timing, slots, the account's key and the faults to inject."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulated provider behaves; fault options are shares of requests (0..1)."""

    job_seconds: float = 2.0  # time a task holds a slot, SUBMITTED to SUCCESS
    slots: int = 3  # tasks running at once; later ones wait in NOT_START
    seed: int = 0  # seeds every random draw, so runs are reproducible
    api_key: str = "sk-simulator"
    rate_limit: float = 0.0  # share of API requests answered 429
    retry_after: float = 1.0  # seconds sent in the 429's Retry-After header
    server_error: float = 0.0  # share of API requests answered 500/502/503
    queue_full: float = 0.0  # share of submits refused with code 23
    banned_words: tuple[str, ...] = ()  # prompts containing one get code 24
    fail_rate: float = 0.0  # share of accepted tasks that end in FAILURE
    slow: float = 0.0  # seconds added before every response
    drop_after_submit: float = 0.0  # share of accepted submits whose connection is dropped
    honor_idempotency_key: bool = True  # a repeated key returns the first task, uncharged
    credits: int | None = None  # charged submissions allowed before quota_not_enough
