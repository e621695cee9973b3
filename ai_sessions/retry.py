"""Retries of transient provider errors (rate limits, timeouts, connection errors, 5xx) with
exponential backoff and jitter, honouring Retry-After, bounded in count and time, and only while no
text has arrived (a retry must never duplicate text)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from .errors import ProviderError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 4
MAX_TOTAL_S = 60.0
MAX_RETRY_AFTER_S = 30.0
_backoff = wait_random_exponential(multiplier=0.5, max=10)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None and retry_after >= 0:
        return min(float(retry_after), MAX_RETRY_AFTER_S)
    return _backoff(state)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("attempt %d failed (%s); retrying in %.1fs", state.attempt_number,
                getattr(error, "kind", type(error).__name__), state.next_action.sleep if state.next_action else 0)


def retrying(allowed: Callable[[], bool], *, attempts: int = MAX_ATTEMPTS,
             on_retry: Callable[[int, int, float, ProviderError], None] | None = None) -> AsyncRetrying:
    """An ``async for attempt in retrying(...)`` loop; ``allowed()`` says whether a retry may happen
    now (False once reply text has arrived). ``on_retry(attempt, attempts, wait_s, error)`` is told of
    each retry before its wait (``attempt`` is the number of the attempt that will follow)."""

    def should_retry(error: BaseException) -> bool:
        return isinstance(error, ProviderError) and error.retryable and allowed()

    def before_sleep(state: RetryCallState) -> None:
        _log_retry(state)
        error = state.outcome.exception() if state.outcome else None
        if on_retry is not None and isinstance(error, ProviderError):
            wait = state.next_action.sleep if state.next_action else 0.0
            on_retry(state.attempt_number + 1, attempts, float(wait), error)

    return AsyncRetrying(retry=retry_if_exception(should_retry), wait=_wait,
                         stop=stop_after_attempt(attempts) | stop_after_delay(MAX_TOTAL_S),
                         before_sleep=before_sleep, reraise=True)
