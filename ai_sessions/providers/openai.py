"""OpenAI, Azure OpenAI and any OpenAI-compatible server, on the official ``openai`` SDK (async Chat
Completions streaming, usage from ``stream_options={"include_usage": True}``).

Settings::

    [providers.openai]                  # optional; key from OPENAI_API_KEY or `%ai_session keys set openai`
    base_url = "https://api.openai.com/v1"   # else OPENAI_BASE_URL

    [providers.azure]                   # key from AZURE_OPENAI_API_KEY
    endpoint = "https://my-resource.openai.azure.com"   # else AZURE_OPENAI_ENDPOINT
    api_version = "2024-10-21"          # else OPENAI_API_VERSION
    deployments = ["gpt-4o-mini"]       # azure:NAME uses deployment NAME

    [providers.ollama]                  # any name: ollama:llama3.2
    kind = "openai-compatible"
    base_url = "http://localhost:11434/v1"
    api_key_env = "OLLAMA_API_KEY"      # optional; servers without keys need nothing
    capabilities = { images = true }    # what the server's models can do, if more than text, tools and JSON
    schema_format = "json_object"       # how schema= is sent: "json_schema" (default: OpenAI's, vLLM, Ollama,
                                        # llama.cpp's llama-server) or "json_object" with a "schema" (llama-cpp-python)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any, ClassVar

from ..errors import ProviderError
from ..model import Usage
from ..parts import ToolCallPart
from . import openai_format
from .base import Availability, Capabilities, ChatRequest, Finished, ModelInfo, StreamItem, TextDelta
from .cloud import CloudProvider
from .history import json_arguments
from .options import CLOUD_OPTIONS, Expected
from .sdk_errors import ErrorContext, from_connection_error, from_status, timed_out

_NOT_CHAT = ("embedding", "whisper", "tts", "dall-e", "audio", "realtime", "transcribe", "moderation",
             "image", "davinci", "babbage", "search", "sora")
_OPENAI_OPTIONS: dict[str, Expected] = {**CLOUD_OPTIONS, "stream_usage": bool, "max_tokens_param": str}


def _map_openai_error(error: BaseException, ctx: ErrorContext) -> ProviderError | None:
    import openai

    if isinstance(error, openai.APITimeoutError):
        return timed_out(ctx)
    if isinstance(error, openai.APIConnectionError):
        return from_connection_error(error, ctx)
    if isinstance(error, openai.APIStatusError):
        return from_status(error.status_code, error.body, ctx, headers=error.response.headers)
    if isinstance(error, openai.APIError):  # an error event inside the stream
        return from_status(None, error.body, ctx)
    return None


class _Calls:
    """Tool calls streamed as pieces: the first piece of each (by ``index``) has its id and name, later
    ones append to its arguments text."""

    def __init__(self) -> None:
        self.calls: dict[int, list[str]] = {}

    def see(self, pieces: Any) -> None:
        for piece in pieces:
            call = self.calls.setdefault(piece.index, ["", "", ""])
            if piece.id:
                call[0] = piece.id
            if piece.function is not None:
                call[1] += piece.function.name or ""
                call[2] += piece.function.arguments or ""

    def parts(self) -> tuple[ToolCallPart, ...]:
        out = []
        for index, (call_id, name, arguments) in sorted(self.calls.items()):
            out.append(ToolCallPart(call_id or f"call_{index}", name, json_arguments(arguments)))
        return tuple(out)


class OpenAIProvider(CloudProvider):
    """``openai:MODEL`` on the OpenAI API."""

    kind = "openai"
    key_envs = ("OPENAI_API_KEY",)
    base_url_env = "OPENAI_BASE_URL"
    price_id = "openai"
    sdk = ("openai", "openai")
    options: ClassVar[Mapping[str, Expected]] = _OPENAI_OPTIONS
    curated = ("gpt-5.5", "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5", "gpt-5-mini", "gpt-4.1", "gpt-4o", "gpt-4o-mini")
    capabilities = Capabilities(tools=True, images=True, documents=True, structured_output=True, batch_api=True,
                                prompt_caching=True)
    #: The request field that caps the reply length.
    max_tokens_param = "max_completion_tokens"
    client_resources = ("chat.completions", "models")

    def make_client(self, key: str | None) -> Any:
        import openai

        return openai.AsyncOpenAI(api_key=key or "missing", base_url=self.option("base_url"), max_retries=0,
                                  timeout=openai.Timeout(self.timeout, connect=self.connect_timeout))


    def map_sdk_error(self, error: BaseException, ctx: ErrorContext) -> ProviderError | None:
        return _map_openai_error(error, ctx)

    def batch_service(self) -> Any:
        """The Batch API (``openai_batch``) where the kind declares one (OpenAI itself)."""
        if not self.capabilities.batch_api:
            return None
        from .openai_batch import OpenAIBatches

        return OpenAIBatches(self)

    def request_args(self, request: ChatRequest) -> dict[str, Any]:
        args: dict[str, Any] = {"model": request.model, "stream": True,
                                "messages": openai_format.messages(request, self.capabilities_for(request.model))}
        if self.option("stream_usage", True):
            args["stream_options"] = {"include_usage": True}
        if request.temperature is not None:
            args["temperature"] = request.temperature
        if request.max_tokens is not None:
            args[str(self.option("max_tokens_param", self.max_tokens_param))] = request.max_tokens
        if request.tools:
            args["tools"] = openai_format.tools(request.tools)
            choice = openai_format.tool_choice(request.tool_choice)
            if choice is not None:
                args["tool_choice"] = choice
        if request.response_format is not None:
            fmt = request.response_format
            if self.option("schema_format") == "json_object":  # llama-cpp-python's server: a grammar from it
                args["response_format"] = {"type": "json_object", "schema": dict(fmt.schema)}
            else:
                args["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": fmt.name, "schema": dict(fmt.schema), "strict": fmt.strict}}
        if request.extra:
            args["extra_body"] = dict(request.extra)
        return args

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        self.require_key(request.model)
        finish: str | None = None
        usage: Usage | None = None
        calls = _Calls()
        failure: ProviderError | None = None
        try:
            stream = await self.client().chat.completions.create(**self.request_args(request))
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = _usage(chunk.usage)
                    for choice in chunk.choices or ():
                        if choice.index != 0:
                            continue
                        delta = choice.delta
                        if delta is not None:
                            if delta.content:
                                yield TextDelta(delta.content)
                            if delta.tool_calls:
                                calls.see(delta.tool_calls)
                        if choice.finish_reason:
                            finish = choice.finish_reason
        except Exception as error:
            failure = self.mapped(error, request.model)
        if failure is not None:
            raise failure
        if finish is not None:  # a cut stream ends quietly: no finish reason, no Finished
            yield Finished(usage=usage, finish_reason=finish, tool_calls=calls.parts())

    async def fetch_models(self) -> list[str]:
        names = [model.id async for model in self.client().models.list()]
        return [n for n in names if not any(word in n for word in _NOT_CHAT)]


def _usage(raw: Any) -> Usage:
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(raw.prompt_tokens or 0, raw.completion_tokens or 0, cache_read_tokens=cached)


class OpenAICompatibleProvider(OpenAIProvider):
    """A named OpenAI-compatible server (Ollama, vLLM, llama.cpp server, LM Studio) from settings."""

    kind = "openai-compatible"
    key_envs = ()
    base_url_env = None
    price_id = None
    curated = ()
    needs_config = True
    options: ClassVar[Mapping[str, Expected]] = {**_OPENAI_OPTIONS, "api_key_env": str, "capabilities": dict,
                                                 "schema_format": str}
    capabilities = Capabilities(tools=True, structured_output=True)
    max_tokens_param = "max_tokens"

    @property
    def key_env(self) -> str | None:
        return self.option("api_key_env")

    def api_key(self) -> str | None:
        return self.keys.get(self.name, env=self.key_env)

    def capabilities_for(self, model: str) -> Capabilities:
        declared = {k: v for k, v in dict(self.option("capabilities", {})).items() if isinstance(v, bool)}
        known = set(Capabilities.__dataclass_fields__)
        return replace(self.capabilities, **{k: v for k, v in declared.items() if k in known})

    def availability(self) -> Availability:
        if not self.option("base_url"):
            return Availability(False, f"provider {self.name!r} needs base_url = \"http://host:port/v1\" under "
                                       f"[providers.{self.name}] in settings.toml")
        return super().availability()

    def make_client(self, key: str | None) -> Any:
        import openai

        return openai.AsyncOpenAI(api_key=key or "not-needed", base_url=self.option("base_url"), max_retries=0,
                                  timeout=openai.Timeout(self.timeout, connect=self.connect_timeout))

    async def fetch_models(self) -> list[str]:
        return [model.id async for model in self.client().models.list()]


class AzureOpenAIProvider(OpenAIProvider):
    """``azure:DEPLOYMENT`` on Azure OpenAI (the model name is the deployment name)."""

    kind = "azure"
    key_envs = ("AZURE_OPENAI_API_KEY",)
    base_url_env = None
    price_id = "azure"
    curated = ()
    options: ClassVar[Mapping[str, Expected]] = {**_OPENAI_OPTIONS, "endpoint": str, "api_version": str,
                                                 "deployment": str, "deployments": list}
    capabilities = Capabilities(tools=True, images=True, structured_output=True, prompt_caching=True)
    max_tokens_param = "max_tokens"
    default_api_version = "2024-10-21"

    def endpoint(self) -> str | None:
        return self.option("endpoint") or os.environ.get("AZURE_OPENAI_ENDPOINT")

    def base_url(self) -> str | None:
        return self.option("base_url") or self.endpoint()

    def api_version(self) -> str:
        return str(self.option("api_version") or os.environ.get("OPENAI_API_VERSION") or self.default_api_version)

    def availability(self) -> Availability:
        if not self.option("base_url") and not self.endpoint():
            return Availability(False, "Azure OpenAI needs its endpoint: set endpoint = \"https://NAME.openai."
                                       "azure.com\" under [providers.azure] or AZURE_OPENAI_ENDPOINT")
        return super().availability()

    def make_client(self, key: str | None) -> Any:
        import openai

        where: dict[str, Any] = ({"base_url": self.option("base_url")} if self.option("base_url")
                                 else {"azure_endpoint": self.endpoint()})
        return openai.AsyncAzureOpenAI(api_key=key or "missing", api_version=self.api_version(), max_retries=0,
                                       timeout=openai.Timeout(self.timeout, connect=self.connect_timeout),
                                       **where)

    def curated_models(self) -> list[ModelInfo]:
        names = list(self.option("deployments", [])) or list(self.option("models", []))
        if self.option("deployment"):
            names.insert(0, self.option("deployment"))
        return [ModelInfo(self.name, str(n), str(n)) for n in dict.fromkeys(names)]

    async def list_models(self) -> list[ModelInfo]:
        """Deployments are named in settings (the API key cannot list them)."""
        return self.curated_models()

    async def fetch_models(self) -> list[str]:
        return [model.id async for model in self.client().models.list()]

    async def test_connection(self) -> None:
        self.require_key()
        failure = None
        try:
            await self.fetch_models()
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure

