"""Google Gemini on the official ``google-genai`` SDK (async ``generate_content_stream``).

Settings (all optional; key from GEMINI_API_KEY or GOOGLE_API_KEY, or `%ai_session keys set gemini`)::

    [providers.gemini]
    base_url = "https://generativelanguage.googleapis.com"   # else GOOGLE_GEMINI_BASE_URL
    api_version = "v1beta"      # else the SDK's default

Facts this adapter relies on: the SDK's async transport is aiohttp when aiohttp is importable, and its
timeout there is a *total* one, so this adapter waits at most ``timeout`` seconds for each chunk
itself instead; without retry options the SDK silently retries a failed connection once, so retries
are set to one attempt; a bad key is reported as HTTP 400 with reason ``API_KEY_INVALID``.
A reply is complete only when a candidate carries a ``finishReason``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from ..errors import BadRequest, ProviderError
from ..model import Usage
from .base import Availability, ChatRequest, Finished, StreamItem, TextDelta
from .cloud import CloudProvider
from .history import gemini_contents
from .sdk_errors import ErrorContext, from_status, gemini_retry_delay

KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


def _enum_value(value: Any) -> str | None:
    value = getattr(value, "value", value)
    if not value or str(value) == "FINISH_REASON_UNSPECIFIED":
        return None
    return str(value)


class GeminiProvider(CloudProvider):
    """``gemini:MODEL`` on the Gemini API."""

    kind = "gemini"
    key_env = "GEMINI_API_KEY"
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    sdk_module, sdk_extra = "google.genai", "gemini"
    curated = ("gemini-3.5-flash", "gemini-3.1-pro-preview", "gemini-2.5-flash", "gemini-2.5-pro",
               "gemini-2.5-flash-lite")

    def api_key(self) -> str | None:
        for env in KEY_ENVS:
            key = self.keys.get(self.name, env=env)
            if key:
                return key
        return None

    def availability(self) -> Availability:
        if (missing := self.sdk_missing()) is not None:
            return Availability(False, missing)
        if self.api_key() is None:
            return Availability(False, f"no API key for {self.name}: set GEMINI_API_KEY (or GOOGLE_API_KEY) "
                                       f"or run `%ai_session keys set {self.name}`")
        return Availability(True)

    def make_client(self, key: str | None) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=self.option("base_url") or os.environ.get(self.base_url_env or ""),
                                    api_version=self.option("api_version"),
                                    retry_options=types.HttpRetryOptions(attempts=1))
        return genai.Client(api_key=key or "missing", vertexai=False, http_options=options)

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

    def generation_config(self, request: ChatRequest) -> dict[str, Any]:
        system, _ = gemini_contents(request)
        config: dict[str, Any] = {}
        if system:
            config["system_instruction"] = system
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["max_output_tokens"] = request.max_tokens
        return config

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        self.require_key(request.model)
        _, contents = gemini_contents(request)
        usage: Usage | None = None
        finish: str | None = None
        chunks: Any = None
        try:
            async with asyncio.timeout(self.timeout):
                chunks = await self.client().aio.models.generate_content_stream(
                    model=request.model, contents=contents, config=self.generation_config(request))
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
                                  (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0))
                for candidate in (chunk.candidates or ())[:1]:
                    parts = candidate.content.parts if candidate.content and candidate.content.parts else ()
                    for part in parts:
                        if part.text and not part.thought:
                            yield TextDelta(part.text)
                    finish = _enum_value(candidate.finish_reason) or finish
        except ProviderError:
            raise
        except Exception as error:
            mapped = self.map_error(error, request.model)
            raise mapped from (None if mapped.kind == "auth" else error)
        finally:
            if chunks is not None:
                await chunks.aclose()
        if finish is not None:
            yield Finished(usage=usage, finish_reason=finish)

    async def fetch_models(self) -> list[str]:
        names = []
        async for model in await self.client().aio.models.list(config={"page_size": 100}):
            actions = getattr(model, "supported_actions", None)
            if actions and "generateContent" not in actions:
                continue
            names.append(str(model.name).removeprefix("models/"))
        return names

    async def test_connection(self) -> None:
        self._models = None
        await self.list_models()
