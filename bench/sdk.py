"""Baselines: the raw official SDKs consuming a bench server's stream, the leanest way a user could.

Each baseline uses the same async client our providers use (one client kept across replies, SDK
retries off), run on a persistent event loop in the calling thread: no hub, no thread hop, no store,
no widget. ``consume(prompt)`` returns (seconds to the first text, the whole text).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .server import MODELS

MAX_TOKENS = 1024  # what our sessions send by default; the bench servers ignore it


class SdkBaseline:
    """The raw SDK of ``protocol`` pointed at ``url``; call :meth:`run` from one thread only."""

    def __init__(self, protocol: str, url: str, key: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.model = MODELS[protocol]
        self._consume: Callable[[str], Awaitable[tuple[float, str]]] = getattr(self, f"_{protocol}")
        self._client = self.loop.run_until_complete(self._make(protocol, url, key))
        self._began = 0.0

    async def _make(self, protocol: str, url: str, key: str) -> Any:
        if protocol == "openai":
            import openai

            return openai.AsyncOpenAI(api_key=key, base_url=f"{url}/v1", max_retries=0)
        if protocol == "anthropic":
            import anthropic

            return anthropic.AsyncAnthropic(api_key=key, base_url=url, max_retries=0)
        from google import genai
        from google.genai import types

        return genai.Client(api_key=key, http_options=types.HttpOptions(
            base_url=url, retry_options=types.HttpRetryOptions(attempts=1)))

    def run(self, prompt: str) -> tuple[float, float, str]:
        """(total seconds, seconds to first text, text) of one reply."""
        self._began = time.perf_counter()
        first, text = self.loop.run_until_complete(self._consume(prompt))
        return time.perf_counter() - self._began, first, text

    def _first(self, first: float | None) -> float:
        return time.perf_counter() - self._began if first is None else first

    async def _openai(self, prompt: str) -> tuple[float, str]:
        parts: list[str] = []
        first: float | None = None
        stream = await self._client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": prompt}], stream=True,
            stream_options={"include_usage": True}, max_completion_tokens=MAX_TOKENS)
        async with stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        first = self._first(first)
                        parts.append(choice.delta.content)
        return first or 0.0, "".join(parts)

    async def _anthropic(self, prompt: str) -> tuple[float, str]:
        parts: list[str] = []
        first: float | None = None
        stream = await self._client.messages.create(
            model=self.model, messages=[{"role": "user", "content": prompt}], max_tokens=MAX_TOKENS, stream=True)
        async with stream:
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    first = self._first(first)
                    parts.append(event.delta.text)
        return first or 0.0, "".join(parts)

    async def _gemini(self, prompt: str) -> tuple[float, str]:
        parts: list[str] = []
        first: float | None = None
        chunks = await self._client.aio.models.generate_content_stream(
            model=self.model, contents=prompt, config={"max_output_tokens": MAX_TOKENS})
        async for chunk in chunks:
            if chunk.text:
                first = self._first(first)
                parts.append(chunk.text)
        return first or 0.0, "".join(parts)

    def close(self) -> None:
        async def close() -> None:
            client = self._client
            await (client.aio.aclose() if hasattr(client, "aio") else client.close())

        try:
            self.loop.run_until_complete(close())
        finally:
            self.loop.close()
