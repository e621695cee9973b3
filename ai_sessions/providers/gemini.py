"""Google Gemini on the official ``google-genai`` SDK (async ``generate_content_stream``).

Settings (all optional; key from GEMINI_API_KEY or GOOGLE_API_KEY, or `%ai_session keys set gemini`)::

    [providers.gemini]
    base_url = "https://generativelanguage.googleapis.com"   # else GOOGLE_GEMINI_BASE_URL
    api_version = "v1beta"      # else the SDK's default

Facts this adapter relies on: the SDK's async transport is aiohttp when aiohttp is importable, and its
timeout there is a *total* one, so this adapter waits at most ``timeout`` seconds for each chunk
itself instead; without retry options the SDK silently retries a failed connection once, so retries
are set to one attempt; a bad key is reported as HTTP 400 with reason ``API_KEY_INVALID``.
A reply is complete only when a candidate carries a ``finishReason``. Tool calls arrive whole, as
``functionCall`` parts (with an ``id`` where the API sends one; otherwise one is made up).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from ..errors import BadRequest, ProviderError
from ..model import Usage
from ..parts import ToolCallPart
from . import gemini_format
from .base import Capabilities, ChatRequest, Finished, StreamItem, TextDelta
from .cloud import CloudProvider
from .options import CLOUD_OPTIONS, Expected
from .sdk_errors import ErrorContext, from_status, gemini_retry_delay


def _enum_value(value: Any) -> str | None:
    value = getattr(value, "value", value)
    if not value or str(value) == "FINISH_REASON_UNSPECIFIED":
        return None
    return str(value)


class GeminiProvider(CloudProvider):
    """``gemini:MODEL`` on the Gemini API."""

    kind = "gemini"
    key_envs = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    price_id = "google"
    sdk = ("google.genai", "gemini")
    options: ClassVar[Mapping[str, Expected]] = {**CLOUD_OPTIONS, "api_version": str}
    curated = ("gemini-3.5-flash", "gemini-3.1-pro-preview", "gemini-2.5-flash", "gemini-2.5-pro",
               "gemini-2.5-flash-lite")
    capabilities = Capabilities(tools=True, images=True, documents=True, structured_output=True, batch_api=True,
                                prompt_caching=True)
    client_resources = ("aio.models",)

    def make_client(self, key: str | None) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=self.option("base_url") or os.environ.get(self.base_url_env or ""),
                                    api_version=self.option("api_version"),
                                    retry_options=types.HttpRetryOptions(attempts=1))
        return genai.Client(api_key=key or "missing", vertexai=False, http_options=options)

    def warm(self, client: Any) -> None:
        from google.genai import types

        super().warm(client)
        for name in ("GenerateContentConfig", "GenerateContentResponse", "Candidate", "Content", "Part"):
            getattr(types, name).model_rebuild()  # the SDK's models are built on first use (defer_build)

    async def _close_client(self, client: Any) -> None:
        try:
            await client.aio.aclose()
        except Exception:
            pass

    def map_sdk_error(self, error: BaseException, ctx: ErrorContext) -> ProviderError | None:
        from google.genai import errors

        if isinstance(error, errors.APIError):
            headers = getattr(error.response, "headers", None)
            return from_status(error.code, error.details, ctx, headers=headers,
                               delay=gemini_retry_delay(error.details))
        return None

    def batch_service(self) -> Any:
        """Batch mode (``gemini_batch``)."""
        from .gemini_batch import GeminiBatches

        return GeminiBatches(self)

    def generation_config(self, request: ChatRequest, system: str | None) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if system:
            config["system_instruction"] = system
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["max_output_tokens"] = request.max_tokens
        if request.tools:
            config["tools"] = gemini_format.tools(request.tools)
            choice = gemini_format.tool_config(request.tool_choice)
            config["tool_config"] = choice or {"function_calling_config": {"mode": "AUTO"}}
            config["automatic_function_calling"] = {"disable": True}
        if request.response_format is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = dict(request.response_format.schema)
        return config

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        self.require_key(request.model)
        system, contents = gemini_format.contents(request, self.capabilities_for(request.model))
        usage: Usage | None = None
        finish: str | None = None
        chunks: Any = None
        calls: list[ToolCallPart] = []
        failure: ProviderError | None = None
        try:
            async with asyncio.timeout(self.timeout):
                chunks = await self.client().aio.models.generate_content_stream(
                    model=request.model, contents=contents, config=self.generation_config(request, system))
            while True:
                try:
                    async with asyncio.timeout(self.timeout):  # per chunk: the SDK's timeout is a total one
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                feedback = getattr(chunk, "prompt_feedback", None)
                if feedback is not None and feedback.block_reason:
                    raise BadRequest(f"Gemini blocked the prompt ({_enum_value(feedback.block_reason)})",
                                     provider=self.name, hint="rephrase the prompt, or switch model")
                meta = chunk.usage_metadata
                if meta is not None and (meta.prompt_token_count or meta.candidates_token_count):
                    usage = Usage(meta.prompt_token_count or 0,
                                  (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
                                  cache_read_tokens=meta.cached_content_token_count or 0)
                for candidate in (chunk.candidates or ())[:1]:
                    parts = candidate.content.parts if candidate.content and candidate.content.parts else ()
                    for part in parts:
                        if part.function_call is not None:
                            call = part.function_call
                            call_id = call.id or f"{gemini_format.MADE_UP_ID}{uuid.uuid4().hex[:12]}"
                            calls.append(ToolCallPart(call_id, call.name or "", dict(call.args or {})))
                        elif part.text and not part.thought:
                            yield TextDelta(part.text)
                    finish = _enum_value(candidate.finish_reason) or finish
        except Exception as error:
            failure = self.mapped(error, request.model)
        finally:
            if chunks is not None:
                await chunks.aclose()
        if failure is not None:
            raise failure
        if finish is not None:
            yield Finished(usage=usage, finish_reason=finish, tool_calls=tuple(calls))

    async def fetch_models(self) -> list[str]:
        names = []
        async for model in await self.client().aio.models.list(config={"page_size": 100}):
            actions = getattr(model, "supported_actions", None)
            if actions and "generateContent" not in actions:
                continue
            names.append(str(model.name).removeprefix("models/"))
        return names
