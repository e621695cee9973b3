"""A provider that replies from a script, to test session machinery (ordering, stop, failure,
retries) deterministically. Provider code itself is tested against real SDKs and the real local model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ai_sessions.errors import ProviderError
from ai_sessions.model import Usage
from ai_sessions.parts import ToolCallPart
from ai_sessions.providers import register
from ai_sessions.providers.base import (
    Availability,
    Capabilities,
    ChatRequest,
    Finished,
    ModelInfo,
    Provider,
    StreamItem,
    TextDelta,
)


@dataclass
class Script:
    """What the next replies do. ``chunks`` may contain ``"{turns}"`` (number of turns received) and
    ``"{last}"`` (the last user turn). ``gate``: wait for it before finishing. ``errors``: raised, in
    order, before any text on the next attempts."""

    chunks: list[str] = field(default_factory=lambda: ["Hello", " world"])
    gate: asyncio.Event | None = None
    errors: list[ProviderError] = field(default_factory=list)
    finish: bool = True
    requests: list[ChatRequest] = field(default_factory=list)
    started: Any = None  # threading.Event set when streaming starts
    #: Replies that ask for tool calls, in order (each a list of calls); later replies are text.
    calls: list[list[ToolCallPart]] = field(default_factory=list)
    #: Hand every chunk over in one go, as an SDK does with the events of one network read (no await
    #: between pieces), calling ``after_piece(i)`` after each.
    burst: bool = False
    after_piece: Callable[[int], None] | None = None


SCRIPTS: dict[str, Script] = {}


class ScriptedProvider(Provider):
    kind = "scripted"
    capabilities = Capabilities(tools=True, structured_output=True, images=True)

    def availability(self) -> Availability:
        return Availability(True)

    def curated_models(self) -> list[ModelInfo]:
        return [ModelInfo(self.name, m, m) for m in SCRIPTS]

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        script = SCRIPTS.setdefault(request.model, Script())
        script.requests.append(request)
        if script.errors:
            raise script.errors.pop(0)
        if script.started is not None:
            script.started.set()
        last = request.turns[-1].content if request.turns else ""
        for chunk in script.chunks:
            await asyncio.sleep(0)
            yield TextDelta(chunk.replace("{turns}", str(len(request.turns))).replace("{last}", last))
        if script.gate is not None:
            await script.gate.wait()
        if script.calls:
            yield Finished(Usage(len(request.turns), 1), "tool_calls", tuple(script.calls.pop(0)))
        elif script.finish:
            yield Finished(Usage(len(request.turns), len(script.chunks)), "stop")

    async def stream_text(self, request: ChatRequest, on_text: Callable[[str], None]) -> Finished | None:
        script = SCRIPTS.setdefault(request.model, Script())
        if not script.burst:
            return await super().stream_text(request, on_text)
        script.requests.append(request)
        for i, chunk in enumerate(script.chunks):
            on_text(chunk)
            if script.after_piece is not None:
                script.after_piece(i)
        return Finished(Usage(len(request.turns), len(script.chunks)), "stop")


register("scripted", ScriptedProvider)
