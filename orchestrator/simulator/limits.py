"""The user's limits that trueai's ``NewTask`` checks before any account is picked.

Each answers HTTP 200 ``{"success": false, "message": ...}`` (API.md revision 3): concurrency
(``CoreSize``: tasks not finished), queue (``QueueSize``: tasks waiting for a slot), today's
draws and all draws. Nothing is accepted or charged.
"""

from __future__ import annotations

from orchestrator.simulator.config import SimulatorConfig
from orchestrator.simulator.replies import Reply, logic_refusal
from orchestrator.simulator.tasks import TaskBook

CORE_FULL = "并发数已达上限"
QUEUE_FULL = "队列数已达上限"
DAY_LIMIT = "用户今日绘图次数已达上限"
TOTAL_LIMIT = "总绘图次数已达上限"
TASK_ROUTES = frozenset({"video", "extend", "imagine", "action"})  # the routes that make a task
DAY = 86400.0


def user_limit(config: SimulatorConfig, book: TaskBook, now: float) -> Reply | None:
    """The refusal of a new task by the user's limits, or None when it may be made."""
    if config.day_draw_limit is not None:
        start = now - (book.ms(now) / 1000.0) % DAY  # midnight UTC, on the simulator's clock
        if book.created_since(start) >= config.day_draw_limit:
            return logic_refusal(DAY_LIMIT)
    if config.total_draw_limit is not None and book.created_since(None) >= config.total_draw_limit:
        return logic_refusal(TOTAL_LIMIT)
    if config.core_size is not None and book.unfinished(now) >= config.core_size:
        return logic_refusal(CORE_FULL)
    if config.queue_size is not None and book.waiting(now) >= config.queue_size:
        return logic_refusal(QUEUE_FULL)
    return None
