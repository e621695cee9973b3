"""Anthropic on the official ``anthropic`` SDK (async Messages streaming).

Settings (all optional; key from ANTHROPIC_API_KEY or `%ai_session keys set anthropic`)::

    [providers.anthropic]
    base_url = "https://api.anthropic.com"   # else ANTHROPIC_BASE_URL

A reply is complete only when the stream sends ``message_stop``; tokens come from ``message_start``
(input) and ``message_delta`` (output, cumulative).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

from ..errors import ProviderError
from ..model import Usage
from .base import ChatRequest, Finished, StreamItem, TextDelta
from .cloud import CloudProvider
from .history import anthropic_messages
from .sdk_errors import ErrorContext, from_connection_error, from_status, timed_out

#: The Messages API requires max_tokens; used when neither settings nor the session set one.
DEFAULT_MAX_TOKENS = 4096


def _input_tokens(usage: Any) -> int:
    return sum(getattr(usage, name, None) or 0 for name in
               ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


class _Tally:
    """What a reply's events other than text say: token counts, the stop reason, and whether the end
    marker (``message_stop``) arrived."""

    __slots__ = ("input_tokens", "output_tokens", "stop_reason", "stopped")

    def __init__(self) -> None:
        self.input_tokens = self.output_tokens = 0
        self.stop_reason: str | None = None
        self.stopped = False

    def see(self, event: Any) -> None:
        kind = event.type
        if kind == "message_start":
            self.input_tokens = _input_tokens(event.message.usage)
            self.output_tokens = event.message.usage.output_tokens or 0
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.output_tokens = event.usage.output_tokens or self.output_tokens
            self.input_tokens = _input_tokens(event.usage) or self.input_tokens
        elif kind == "message_stop":
            self.stopped = True

    def finished(self) -> Finished | None:
        """The reply's end, or None if ``message_stop`` never came (an incomplete reply)."""
        if not self.stopped:
            return None
        return Finished(usage=Usage(self.input_tokens, self.output_tokens), finish_reason=self.stop_reason)


class AnthropicProvider(CloudProvider):
    """``anthropic:MODEL`` on the Anthropic Messages API."""

    kind = "anthropic"
    key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    sdk_module = sdk_extra = "anthropic"
    curated = ("claude-sonnet-5", "claude-opus-5", "claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5")

    def make_client(self, key: str | None) -> Any:
        import anthropic

        return anthropic.AsyncAnthropic(api_key=key or "missing", base_url=self.option("base_url"), max_retries=0,
                                        timeout=anthropic.Timeout(self.timeout, connect=self.connect_timeout))

    def map_sdk_error(self, error: BaseException, ctx: ErrorContext) -> ProviderError | None:
        import anthropic

        if isinstance(error, anthropic.APITimeoutError):
            return timed_out(ctx)
        if isinstance(error, anthropic.APIConnectionError):
            return from_connection_error(error, ctx)
        if isinstance(error, anthropic.APIStatusError):  # also `event: error` inside a 200 stream
            status = error.status_code if error.status_code >= 400 else None
            return from_status(status, error.body, ctx, headers=error.response.headers)
        if isinstance(error, anthropic.APIError):
            return from_status(None, error.body, ctx)
        return None

    def request_args(self, request: ChatRequest) -> dict[str, Any]:
        system, messages = anthropic_messages(request)
        args: dict[str, Any] = {"model": request.model, "messages": messages, "stream": True,
                                "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
        if system:
            args["system"] = system
        if request.temperature is not None:
            args["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0..1
        if request.extra:
            args["extra_body"] = dict(request.extra)
        return args

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        self.require_key(request.model)
        tally = _Tally()
        try:
            stream = await self.client().messages.create(**self.request_args(request))
            async with stream:
                async for event in stream:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        yield TextDelta(event.delta.text)
                    else:
                        tally.see(event)
        except Exception as error:
            self._raise_mapped(error, request.model)
        finished = tally.finished()
        if finished is not None:
            yield finished

    async def stream_text(self, request: ChatRequest, on_text: Callable[[str], None]) -> Finished | None:
        """:meth:`stream` without an async-iterator step per text event (see the base class)."""
        self.require_key(request.model)
        tally = _Tally()
        in_on_text = False  # an error raised by on_text is the caller's, not the provider's
        try:
            stream = await self.client().messages.create(**self.request_args(request))
            async with stream:
                async for event in stream:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        if event.delta.text:
                            in_on_text = True
                            on_text(event.delta.text)
                            in_on_text = False
                    else:
                        tally.see(event)
        except Exception as error:
            if in_on_text:
                raise
            self._raise_mapped(error, request.model)
        return tally.finished()

    def _raise_mapped(self, error: Exception, model: str) -> NoReturn:
        """Raise ``error`` as the :class:`ProviderError` it means (auth errors without the SDK's cause)."""
        if isinstance(error, ProviderError):
            raise error
        mapped = self.map_error(error, model)
        raise mapped from (None if mapped.kind == "auth" else error)

    async def fetch_models(self) -> list[str]:
        return [model.id async for model in self.client().models.list(limit=100)]

    async def test_connection(self) -> None:
        self._models = None
        await self.list_models()
