"""Injected faults: each drawn from the seeded RNG, and only when its option is enabled."""

from __future__ import annotations

import random
from collections import Counter

from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.replies import (
    Reply,
    envelope,
    gateway_error,
    logic_refusal,
    upstream_error,
)

# new-api service/midjourney.go: the gateway could not talk to the upstream (code 5).
RELAY_REASONS = (
    "do_request_failed",
    "read_response_body_failed",
    "unmarshal_response_body_failed",
    "close_request_body_failed",
    "close_response_body_failed",
    "create_request_failed",
)
# trueai LogicException texts a submit may meet (CustomLogicExceptionFilterAttribute.cs).
REFUSALS = ("并发数已达上限", "队列数已达上限", "今日绘图次数已达上限", "未找到账号实例")
ACCOUNT_LOCKED = "账号已被临时封锁，请勿使用违规词作图"
QUEUE_FULL_9 = "提交失败，队列已满，请稍后重试"  # trueai sends queue full as code 9
QUOTA_TEXTS = {"en": "quota_not_enough", "zh": "您在本站点的所余资金不足够了"}
MODERATION_TEXTS = {"zh": "可能包含敏感词", "en": "Banned prompt detected"}
FAIL_REASONS = ("执行超时 5 分钟", "Image denied: the start frame breaks the content policy")


class Faults:
    """The fault options of one simulator, with their seeded draws and counters."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._rng = random.Random(config.seed)
        self.counts: Counter[str] = Counter()

    def draw(self, fault: str, share: float) -> bool:
        """Draw for one fault; enabling one leaves the other faults' sequence alone."""
        hit = share > 0 and self._rng.random() < share
        if hit:
            self.counts[fault] += 1
        return hit

    def api(self) -> Reply | None:
        """Faults of any API call: 429, 5xx, and the gateway's relay errors."""
        config = self._config
        if self.draw("rate_limit", config.rate_limit):
            text = "Rate limit reached, please try again later"
            return gateway_error(429, text, **{"Retry-After": f"{config.retry_after:g}"})
        if self.draw("server_error", config.server_error):
            status = self._rng.choice((500, 502, 503))
            page = f"<html><body><h1>{status} Server Error</h1></body></html>".encode()
            return Reply(status, page, "text/html")
        if self.draw("relay_error", config.relay_error):
            return upstream_error(self._rng.choice(RELAY_REASONS), code=5)
        return None

    def refusal(self) -> Reply | None:
        """trueai's HTTP 200 refusals of a submit: a locked account, or a drawn share."""
        if self._config.account_locked:
            self.counts["account_locked"] += 1
            return logic_refusal(ACCOUNT_LOCKED)
        if self.draw("refusal", self._config.refusal):
            return logic_refusal(self._rng.choice(REFUSALS))
        return None

    def queue_full(self) -> Reply | None:
        """A drawn queue-full refusal, in the configured style."""
        if not self.draw("queue_full", self._config.queue_full):
            return None
        if self._config.queue_full_style == "23":
            return envelope(23, "Queue full, please try again later")
        return envelope(9, QUEUE_FULL_9)

    def quota(self) -> Reply:
        """The gateway's out-of-money answer, in the configured language."""
        return upstream_error(QUOTA_TEXTS.get(self._config.quota_style, QUOTA_TEXTS["en"]))

    def moderation_text(self) -> str:
        """failReason of a video task whose prompt holds a banned word."""
        return MODERATION_TEXTS.get(self._config.moderation_style, MODERATION_TEXTS["zh"])
