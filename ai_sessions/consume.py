"""Consume one provider stream the way every caller must: retry transient errors only while no text
has arrived, hand each piece of text on, and insist on the protocol's own end marker."""

from __future__ import annotations

from collections.abc import Callable

from .errors import IncompleteReply
from .providers.base import ChatRequest, Finished, Provider


async def consume(provider: Provider, request: ChatRequest, *, full_model: str, on_text: Callable[[str], None],
                  attempts: int | None = None, on_attempt: Callable[[], None] | None = None,
                  incomplete_hint: str = "regenerate the reply to try again") -> Finished:
    """Stream ``request`` from ``provider``, calling ``on_text`` for each non-empty piece; returns the
    provider's :class:`Finished`. Raises the provider's error after retries, or :class:`IncompleteReply`
    if the stream ended without its end marker."""
    from .retry import MAX_ATTEMPTS, retrying  # tenacity is imported on first use, not at import time

    got_text = False
    finished: Finished | None = None

    def no_text_yet() -> bool:  # a retry after text arrived would duplicate it
        return not got_text

    def text(piece: str) -> None:
        nonlocal got_text
        got_text = True
        on_text(piece)

    async for attempt in retrying(no_text_yet, attempts=attempts or MAX_ATTEMPTS):
        with attempt:
            if on_attempt is not None:
                on_attempt()
            finished = await provider.stream_text(request, text)  # no async-iterator step per piece
    if finished is None:
        raise IncompleteReply("the reply stream ended before the provider said it was complete",
                              provider=full_model, hint=incomplete_hint)
    return finished
