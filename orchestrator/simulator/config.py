"""Knobs of the simulator: timing, slots, the account's key, prices and the faults to inject."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Price per charged call. CometAPI lists mj_fast_video at 0.6; new-api prices a video call at
# 8x an imagine call; the other modes and kinds are not published, so these are plausible guesses.
DEFAULT_PRICES: Mapping[str, float] = MappingProxyType(
    {
        "fast": 0.6,
        "fast_hd": 1.2,  # resellers charge HD about twice SD
        "relax": 0.3,
        "turbo": 1.2,
        "turbo_hd": 2.4,
        "imagine": 0.075,
        "upscale": 0.04,
        "upload": 0.01,
        "modal": 0.075,
    }
)


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
    queue_full: float = 0.0  # share of submits refused as queue full (not charged)
    queue_full_style: str = "9"  # "9": trueai's code 9 text; "23": code 23
    banned_words: tuple[str, ...] = ()  # imagine: code 24; video: accepted, then FAILURE
    moderation_style: str = "zh"  # "zh": 可能包含敏感词; "en": Banned prompt detected
    fail_rate: float = 0.0  # share of accepted tasks that end in FAILURE
    slow: float = 0.0  # seconds added before every response
    drop_after_submit: float = 0.0  # share of accepted submits whose connection is dropped
    honor_idempotency_key: bool = False  # a repeated key returns the first task, uncharged
    credits: int | None = None  # charges allowed before the quota error
    quota_style: str = "en"  # "en": quota_not_enough; "zh": 您在本站点的所余资金不足够了
    relay_error: float = 0.0  # share of API calls answered HTTP 400 code 5 (gateway relay)
    state_unknown: float = (
        0.0  # share of submits accepted, charged, answered accepted_state_unknown
    )
    refusal: float = 0.0  # share of submits answered HTTP 200 success:false (LogicException)
    account_locked: bool = False  # every submit answers the temporary-lock LogicException
    # The user's limits of trueai's NewTask (API.md revision 3); None: no limit.
    core_size: int | None = None  # unfinished tasks at once: 并发数已达上限
    queue_size: int | None = None  # tasks waiting for a slot: 队列数已达上限
    day_draw_limit: int | None = None  # tasks per day: 用户今日绘图次数已达上限
    total_draw_limit: int | None = None  # tasks in all: 总绘图次数已达上限
    hd: bool = True  # False: HD creates answer code 3 无可用的账号实例
    upload_ttl: float = 86400.0  # seconds an uploaded image URL stays valid
    clip_ttl: float | None = None  # seconds after a task's finish its clips stay downloadable
    require_browser_ua: bool = False  # CDN downloads without "Mozilla/" in User-Agent get 403
    queue_seconds: float = 0.0  # extra wait before a task may leave NOT_START
    raw_queue_code: bool = False  # queued submits answer code 22 instead of the gateway's 1
    stall: float = 0.0  # share of tasks that never finish on their own
    gateway_timeout: float = 3600.0  # the gateway fails a task unfinished this long after submit
    blank_status_seconds: float = 0.0  # a new task shows status "" this long
    clip_fault: str = ""  # one of footage.FAULTS: the defect of bad clips served
    clip_fault_share: float = 0.0  # share of clips served with clip_fault
    clip_fault_word: str = ""  # clips of prompts containing this word get clip_fault too
    prices: Mapping[str, float] = field(default_factory=lambda: DEFAULT_PRICES)
    refunds: bool = True  # False: a FAILURE keeps its charge (a provider documenting no refund)
