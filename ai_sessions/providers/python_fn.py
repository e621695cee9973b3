"""Models that are Python functions (``hub.register_model("echo", fn)``): provider ``python``.

``fn(messages, **params)`` gets the history as ``[{"role": "system" | "user" | "assistant", "content":
text}, ...]`` (the system prompt first, if any; images and files described in words) and the parameters it
accepts among ``temperature``, ``max_tokens`` and ``model``. It may return text, or be a generator, an
async generator or a coroutine of text: its pieces stream like any model's, a stop ends it, and the reply
is stored like any other. This is how marimo's and Panel's chat users write their bots, and how to wrap an
in-house model or test a chat without a network.

Plain functions and generators run in a worker thread (a stop is seen between two pieces); async ones run
on the hub loop (a stop cancels them). Functions live in this kernel only: after a restart a session whose
model is a Python function falls back (S4) until the function is registered again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from ..errors import AiSessionsError, BadRequest, ProviderError
from ..model import Usage
from ..parts import TextPart
from .base import Availability, Capabilities, ChatRequest, Finished, ModelInfo, Provider, StreamItem, TextDelta
from .history import prepare

log = logging.getLogger(__name__)
KIND = "python"
_NAME = re.compile(r"^[\w.-]{1,100}$")
_END = object()


class PythonFunctionProvider(Provider):
    """The Python functions registered on one hub, each a model ``python:NAME``."""

    kind = KIND
    capabilities = Capabilities(streaming=True)

    def __init__(self, config: Any, keys: Any) -> None:
        super().__init__(config, keys)
        self._functions: dict[str, Callable[..., Any]] = {}

    def add(self, name: str, fn: Callable[..., Any]) -> str:
        """Serve ``fn`` as model ``python:NAME`` (replacing one of that name); returns the full name."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise AiSessionsError(f"bad model name {name!r}",
                                  hint="use letters, digits, '.', '-' or '_', e.g. hub.register_model('echo', fn)")
        if not callable(fn):
            raise AiSessionsError(f"the model {name!r} must be a function of the messages, not a {type(fn).__name__}",
                                  hint="e.g. def echo(messages, **params): return messages[-1]['content']")
        self._functions[name] = fn
        return f"{self.name}:{name}"

    def remove(self, name: str) -> None:
        self._functions.pop(name, None)

    def availability(self) -> Availability:
        return Availability(True)

    def curated_models(self) -> list[ModelInfo]:
        return [ModelInfo(self.name, name, name) for name in self._functions]

    def validate_model(self, model: str) -> str | None:
        if model in self._functions:
            return None
        return (f"no Python function is registered as {model!r} in this kernel (functions do not survive a "
                f"restart): register it with hub.register_model({model!r}, fn)")

    def cost(self, model: str, usage: Usage) -> float | None:
        return None

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        fn = self._functions.get(request.model)
        if fn is None:
            raise BadRequest(self.validate_model(request.model) or "", provider=self.name)
        messages = self.messages(request)
        kwargs = _accepted(fn, {"temperature": request.temperature, "max_tokens": request.max_tokens,
                                "model": request.model})
        try:
            if inspect.isasyncgenfunction(fn) or inspect.iscoroutinefunction(fn):
                result = fn(messages, **kwargs)
            else:  # a plain function may block (a local model, an HTTP call): not on the hub loop
                result = await asyncio.to_thread(fn, messages, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            async for piece in self._pieces(result):
                yield TextDelta(piece)
        except (asyncio.CancelledError, ProviderError):
            raise
        except Exception as exc:
            log.exception("the Python model %s raised", request.model)
            raise ProviderError(f"the Python model {request.model!r} raised {type(exc).__name__}: {exc}",
                                hint="fix the function (the traceback is in the log) and regenerate",
                                provider=self.name) from exc
        yield Finished(usage=None, finish_reason="stop")

    @staticmethod
    def messages(request: ChatRequest) -> list[dict[str, str]]:
        """The history as role/content dicts (what a function gets)."""
        out = [{"role": "system", "content": request.system}] if request.system else []
        for turn in prepare(request, PythonFunctionProvider.capabilities):
            text = "".join(p.text for p in turn.parts if isinstance(p, TextPart))
            out.append({"role": "assistant" if turn.role == "assistant" else "user", "content": text})
        return out

    async def _pieces(self, result: Any) -> AsyncIterator[str]:
        if result is None:
            return
        if isinstance(result, str):
            yield result
            return
        if inspect.isasyncgen(result) or hasattr(result, "__aiter__"):
            try:
                async for piece in result:
                    if piece:
                        yield str(piece)
            finally:
                if hasattr(result, "aclose"):
                    await result.aclose()
            return
        if isinstance(result, Iterable):
            async for piece in _from_thread(result):
                yield piece
            return
        yield str(result)


async def _from_thread(items: Iterable[Any]) -> AsyncIterator[str]:
    """The pieces of a sync iterable, drawn in a worker thread; a stop is seen before the next piece."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def draw() -> None:
        iterator = iter(items)
        try:
            for piece in iterator:
                if stop.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, piece)
            loop.call_soon_threadsafe(queue.put_nowait, _END)
        except BaseException as exc:  # handed to the hub loop, raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    loop.run_in_executor(None, draw)  # not awaited on a stop: the function ends at its next piece
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            if item:
                yield str(item)
    finally:
        stop.set()


def _accepted(fn: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """The ``params`` that ``fn`` takes (all of them if it takes ``**kwargs``)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    taken = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in taken.values()):
        return params
    return {k: v for k, v in params.items() if k in taken}
