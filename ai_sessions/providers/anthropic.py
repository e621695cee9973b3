"""Anthropic on the official ``anthropic`` SDK (async Messages streaming).

Settings (all optional; key from ANTHROPIC_API_KEY or `%ai_session keys set anthropic`)::

    [providers.anthropic]
    base_url = "https://api.anthropic.com"   # else ANTHROPIC_BASE_URL

A reply is complete only when the stream sends ``message_stop``; tokens come from ``message_start``
(input, cache reads and writes) and ``message_delta`` (output, cumulative). Tool calls arrive as
``tool_use`` content blocks whose input streams as ``input_json_delta`` pieces.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from ..errors import ProviderError
from ..model import Usage
from ..parts import ToolCallPart
from . import anthropic_format
from .base import Capabilities, ChatRequest, Finished, StreamItem, TextDelta
from .cloud import CloudProvider
from .history import json_arguments
from .sdk_errors import ErrorContext, from_connection_error, from_status, timed_out

#: The Messages API requires max_tokens; used when neither settings nor the session set one.
DEFAULT_MAX_TOKENS = 4096
#: Models without native JSON outputs (``output_config.format``): structured output is asked for with a
#: forced tool instead, whose input streams back as the reply's text.
FORCED_JSON_MODELS = ("claude-3", "claude-sonnet-4-0", "claude-sonnet-4-2025", "claude-opus-4-0",
                      "claude-opus-4-2025")
JSON_TOOL_DESCRIPTION = "Give your answer by calling this tool; its input is the answer."


class _Tally:
    """What a reply's events other than text say: token counts, tool calls, the stop reason, and whether
    the end marker (``message_stop``) arrived."""

    __slots__ = ("cache_read", "cache_write", "calls", "input_tokens", "json_index", "json_tool", "output_tokens",
                 "stop_reason", "stopped")

    def __init__(self, json_tool: str | None = None) -> None:
        self.input_tokens = self.output_tokens = self.cache_read = self.cache_write = 0
        self.stop_reason: str | None = None
        self.stopped = False
        self.calls: dict[int, list[str]] = {}  # block index -> [id, name, input json]
        self.json_tool = json_tool  # the forced tool that carries structured output (older models)
        self.json_index: int | None = None

    def _usage(self, usage: Any) -> None:
        plain = getattr(usage, "input_tokens", None)
        read = getattr(usage, "cache_read_input_tokens", None)
        write = getattr(usage, "cache_creation_input_tokens", None)
        if plain is not None or read is not None or write is not None:
            self.cache_read = read or self.cache_read
            self.cache_write = write or self.cache_write
            self.input_tokens = (plain or 0) + self.cache_read + self.cache_write or self.input_tokens

    def see(self, event: Any) -> str | None:
        """Note ``event``; returns the reply text it carries (the forced JSON tool's input), if any."""
        kind = event.type
        if kind == "content_block_start" and event.content_block.type == "tool_use":
            if event.content_block.name == self.json_tool and self.json_index is None:
                self.json_index = event.index
                return None
            self.calls[event.index] = [event.content_block.id, event.content_block.name, ""]
        elif kind == "content_block_delta" and event.delta.type == "input_json_delta" and \
                event.index == self.json_index:
            return event.delta.partial_json or None
        elif kind == "content_block_delta" and event.delta.type == "input_json_delta":
            call = self.calls.get(event.index)
            if call is not None:
                call[2] += event.delta.partial_json or ""
        elif kind == "message_start":
            self._usage(event.message.usage)
            self.output_tokens = event.message.usage.output_tokens or 0
        elif kind == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.output_tokens = event.usage.output_tokens or self.output_tokens
            self._usage(event.usage)
        elif kind == "message_stop":
            self.stopped = True
        return None

    def finished(self) -> Finished | None:
        """The reply's end, or None if ``message_stop`` never came (an incomplete reply)."""
        if not self.stopped:
            return None
        calls = tuple(ToolCallPart(cid, name, json_arguments(text))
                      for _, (cid, name, text) in sorted(self.calls.items()))
        usage = Usage(self.input_tokens, self.output_tokens, self.cache_read, self.cache_write)
        reason = "end_turn" if self.json_index is not None and self.stop_reason == "tool_use" else self.stop_reason
        return Finished(usage=usage, finish_reason=reason, tool_calls=calls)


class AnthropicProvider(CloudProvider):
    """``anthropic:MODEL`` on the Anthropic Messages API."""

    kind = "anthropic"
    key_envs = ("ANTHROPIC_API_KEY",)
    base_url_env = "ANTHROPIC_BASE_URL"
    price_id = "anthropic"
    sdk = ("anthropic", "anthropic")
    curated = ("claude-sonnet-5", "claude-opus-5", "claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5")
    capabilities = Capabilities(tools=True, images=True, documents=True, structured_output=True, batch_api=True,
                                prompt_caching=True)
    client_resources = ("messages", "models")

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
        system, messages = anthropic_format.messages(request, self.capabilities_for(request.model))
        args: dict[str, Any] = {"model": request.model, "messages": messages, "stream": True,
                                "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
        if system:
            args["system"] = system
        if request.temperature is not None:
            args["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0..1
        if request.tools:
            args["tools"] = anthropic_format.tools(request.tools)
            choice = anthropic_format.tool_choice(request.tool_choice)
            if choice is not None:
                args["tool_choice"] = choice
        if request.response_format is not None:
            schema = _api_schema(request.response_format.schema)
            if self.native_json(request.model):
                args["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
            else:  # a forced tool whose input is the answer (streamed back as text, see _Tally)
                name = request.response_format.name
                args["tools"] = [*args.get("tools", []), {"name": name, "description": JSON_TOOL_DESCRIPTION,
                                                          "input_schema": schema}]
                args["tool_choice"] = {"type": "tool", "name": name}
        if request.extra:
            args["extra_body"] = dict(request.extra)
        return args

    def batch_service(self) -> Any:
        """Message Batches (``anthropic_batch``)."""
        from .anthropic_batch import AnthropicBatches

        return AnthropicBatches(self)

    def native_json(self, model: str) -> bool:
        """Whether ``model`` takes ``output_config.format`` (else structured output uses a forced tool)."""
        return not model.startswith(FORCED_JSON_MODELS)

    def _tally(self, request: ChatRequest) -> _Tally:
        fmt = request.response_format
        return _Tally(fmt.name if fmt is not None and not self.native_json(request.model) else None)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        self.require_key(request.model)
        tally = self._tally(request)
        failure: ProviderError | None = None
        try:
            stream = await self.client().messages.create(**self.request_args(request))
            async with stream:
                async for event in stream:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        yield TextDelta(event.delta.text)
                    elif (piece := tally.see(event)) is not None:
                        yield TextDelta(piece)
        except Exception as error:
            failure = self.mapped(error, request.model)
        if failure is not None:
            raise failure
        finished = tally.finished()
        if finished is not None:
            yield finished

    async def stream_text(self, request: ChatRequest, on_text: Callable[[str], None]) -> Finished | None:
        """:meth:`stream` without an async-iterator step per text event (see the base class)."""
        self.require_key(request.model)
        tally = self._tally(request)
        in_on_text = False  # an error raised by on_text is the caller's, not the provider's
        failure: ProviderError | None = None
        try:
            stream = await self.client().messages.create(**self.request_args(request))
            async with stream:
                async for event in stream:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        if event.delta.text:
                            in_on_text = True
                            on_text(event.delta.text)
                            in_on_text = False
                    elif (piece := tally.see(event)) is not None:
                        in_on_text = True
                        on_text(piece)
                        in_on_text = False
        except Exception as error:
            if in_on_text:
                raise
            failure = self.mapped(error, request.model)
        if failure is not None:
            raise failure
        return tally.finished()

    async def fetch_models(self) -> list[str]:
        return [model.id async for model in self.client().models.list(limit=100)]


def _api_schema(schema: Any) -> dict[str, Any]:
    """A JSON schema in the form the Messages API takes (the SDK's own ``transform_schema``: objects
    closed, unsupported keywords moved into descriptions); the schema as given if it cannot transform it."""
    import anthropic

    try:
        return anthropic.transform_schema(dict(schema))
    except (ValueError, TypeError, KeyError):
        return dict(schema)
