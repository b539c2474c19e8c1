"""Report our transport's retries to LangChain callbacks (``run_manager.on_retry``).

LangChain's callback API takes a tenacity ``RetryCallState``; we do not retry with tenacity,
so each retry is described in one: ``attempt_number`` (the attempt that failed, from 1),
``outcome`` (a failed future holding the error) and ``next_action.sleep`` (the wait before the
next attempt).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from tenacity import (
    Future,
    RetryAction,
    RetryCallState,
    Retrying,
)

if TYPE_CHECKING:
    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun

    from langchain_qwen_vl._transport import OnRetry
    from langchain_qwen_vl.errors import QwenVLError

__all__ = ["notifier", "retry_state"]


def retry_state(error: QwenVLError, retry: int, delay: float) -> RetryCallState:
    """A ``RetryCallState`` for retry number ``retry`` (from 1) after ``error``."""
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = retry
    outcome = Future(retry)
    outcome.set_exception(error)
    state.outcome = outcome
    state.next_action = RetryAction(delay)
    state.idle_for = delay
    return state


def notifier(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
) -> OnRetry | None:
    """The transport's ``on_retry`` hook for ``run_manager`` (``None`` without one)."""
    if run_manager is None:
        return None
    manager = run_manager

    def on_retry(error: QwenVLError, retry: int, delay: float) -> Awaitable[None] | None:
        return manager.on_retry(retry_state(error, retry, delay))

    return on_retry
