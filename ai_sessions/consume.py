"""Consume one provider stream the way every caller must: retry transient errors only while no text
has arrived, hand each piece of text on, and insist on the protocol's own end marker."""

from __future__ import annotations

from collections.abc import Callable

from .errors import ConnectionFailed, IncompleteReply, ProviderError
from .providers.base import ChatRequest, Finished, Provider

#: ``on_retry(attempt, max_attempts, wait_s, error)``: a failed attempt will be retried after ``wait_s``.
RetryCallback = Callable[[int, int, float, ProviderError], None]


async def consume(provider: Provider, request: ChatRequest, *, full_model: str, on_text: Callable[[str], None],
                  attempts: int | None = None, on_attempt: Callable[[], None] | None = None,
                  on_retry: RetryCallback | None = None,
                  incomplete_hint: str = "regenerate the reply to try again") -> Finished:
    """Stream ``request`` from ``provider``, calling ``on_text`` for each non-empty piece; returns the
    provider's :class:`Finished`. Raises the provider's error after retries, or :class:`IncompleteReply`
    if the stream ended without its end marker after text arrived (a stream that ends before any text,
    e.g. a connection dropped after its headers, is retried like any connection error)."""
    from .retry import MAX_ATTEMPTS, retrying  # tenacity is imported on first use, not at import time

    got_text = False
    finished: Finished | None = None

    def no_text_yet() -> bool:  # a retry after text arrived would duplicate it
        return not got_text

    def text(piece: str) -> None:
        nonlocal got_text
        got_text = True
        on_text(piece)

    async def one_attempt() -> None:
        nonlocal finished
        if on_attempt is not None:
            on_attempt()
        finished = await provider.stream_text(request, text)  # no async-iterator step per piece
        if finished is None and not got_text:
            raise ConnectionFailed(f"the connection to {provider.name} closed before the reply started",
                                   hint="check the network and the provider's base_url, then regenerate",
                                   provider=provider.name)

    limit = attempts or MAX_ATTEMPTS
    # The first attempt runs without tenacity, whose loop costs ~0.2 ms per call (it shows in a map of
    # thousands of items); a retryable failure is handed to it as its first attempt, so its policy
    # (waits, Retry-After, limits, on_retry) applies unchanged.
    failed: ProviderError | None = None
    try:
        await one_attempt()
    except ProviderError as error:
        if limit <= 1 or not error.retryable or got_text:
            raise
        failed = error
    if failed is not None:
        async for attempt in retrying(no_text_yet, attempts=limit, on_retry=on_retry):
            with attempt:
                if failed is not None:
                    error, failed = failed, None
                    raise error
                await one_attempt()
    if finished is None:
        raise IncompleteReply("the reply stream ended before the provider said it was complete",
                              provider=full_model, hint=incomplete_hint)
    return finished
