"""`mjv doctor`: key and gateway checked with a call that creates nothing."""

from __future__ import annotations

import pytest
from runsupport import KEY, mjv

from orchestrator.simulator import Simulator, SimulatorConfig


def test_doctor_accepts_a_good_key_and_submits_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    with Simulator(SimulatorConfig(api_key=KEY)) as sim:
        monkeypatch.setenv("MJV_API_KEY", KEY)
        result = mjv("doctor", "--base-url", sim.base_url)
        assert result.code == 0, result.out
        assert "gateway: reached" in result.out and "key: accepted" in result.out
        assert "latency:" in result.out
        assert sim.submit_requests() == 0 and sim.accepted_submissions() == {}


def test_doctor_says_when_the_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with Simulator(SimulatorConfig(api_key=KEY)) as sim:
        monkeypatch.setenv("MJV_API_KEY", "sk-wrongkey123456")
        result = mjv("doctor", "--base-url", sim.base_url)
    assert result.code == 1 and "key: refused" in result.out
    assert "sk-wrongkey123456" not in result.out + result.err


def test_doctor_says_when_the_gateway_is_not_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJV_API_KEY", KEY)
    result = mjv("doctor", "--base-url", "http://127.0.0.1:9")
    assert result.code == 1 and "gateway: not reached" in result.out


def test_doctor_without_a_key_fails_before_any_request() -> None:
    result = mjv("doctor", "--base-url", "http://127.0.0.1:9")
    assert result.code == 1 and "no API key" in result.out
