"""The provider interface: what every model backend implements, and what it declares about itself.

A provider *kind* is one class. It declares on the class what the rest of the kit needs to know without
asking it anything (attributes below: options schema, key variables, price id, curated models,
capabilities, the SDK it needs), and implements :meth:`Provider.stream`. Built-in kinds register through
the same ``ai_sessions.providers`` entry point group as plugins (see ``providers/__init__.py``), so a
plugin gets option checks, prices and capabilities exactly like a built-in.

Each method says whether a subclass **must**, **should** or **may** override it. A provider instance
serves one provider name (``openai``, ``ollama``, ...) and any of its models; it is created lazily, used
on the hub loop, and closed with :meth:`Provider.aclose`.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
import importlib.util
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from ..errors import AuthError, MissingSDK, ProviderError
from ..model import Usage
from ..parts import Part, ToolCallPart, as_parts, text_of
from .options import Expected

if TYPE_CHECKING:
    from ..keys import KeyStore
    from .batch_api import BatchService
    from .sdk_errors import ErrorContext


@dataclass(frozen=True)
class Capabilities:
    """What a provider (or one of its models) can take and do."""

    streaming: bool = True
    tools: bool = False
    images: bool = False
    documents: bool = False
    structured_output: bool = False
    batch_api: bool = False
    prompt_caching: bool = False

    def to_dict(self) -> dict[str, bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ChatTurn:
    """One turn of history in provider-neutral form: ``role`` is ``user``, ``assistant`` or ``tool``
    (tool results, which each API places in its own way); ``parts`` are typed parts (a string given here
    is one text part)."""

    role: str
    parts: tuple[Part, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.parts, tuple):
            object.__setattr__(self, "parts", as_parts(self.parts))

    @property
    def content(self) -> str:
        """The turn's text."""
        return text_of(self.parts)


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: ``parameters`` is the JSON Schema of its arguments (an object)."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class ResponseFormat:
    """Ask for JSON matching ``schema`` (a JSON Schema), named ``name``; ``strict`` where allowed."""

    name: str
    schema: Mapping[str, Any]
    strict: bool = True


@dataclass(frozen=True)
class ChatRequest:
    """What a provider is asked to do: continue ``turns`` with ``model``. ``tool_choice`` is None (the
    model decides), ``"required"`` or a tool name (that tool must be called)."""

    model: str
    turns: tuple[ChatTurn, ...]
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    response_format: ResponseFormat | None = None
    #: Mark the stable prefix (system prompt and the turns before the last) as cacheable where the
    #: provider needs it marked (Anthropic); others cache a repeated prefix on their own.
    cache_prefix: bool = False


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of reply text, in order."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The protocol's own end of a reply, with the provider's usage report when it sent one and the tool
    calls the model asked for (``finish_reason`` then says so in the provider's words)."""

    usage: Usage | None = None
    finish_reason: str | None = None
    tool_calls: tuple[ToolCallPart, ...] = ()


StreamItem = TextDelta | Finished


@dataclass(frozen=True)
class ModelInfo:
    """A model a provider offers. ``short_name`` fits a narrow selector."""

    provider: str
    name: str
    short_name: str
    available: bool = True
    reason: str | None = None
    capabilities: Capabilities | None = None

    @property
    def full_name(self) -> str:
        return f"{self.provider}:{self.name}"


@dataclass(frozen=True)
class Availability:
    """Whether a provider can be used now, and if not, why (never containing a secret)."""

    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class ProviderConfig:
    """A provider's settings: its name, kind, and the ``[providers.NAME]`` table from settings.toml."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)


class ScrubbedError(Exception):
    """What a :class:`ProviderError` keeps of the SDK error behind it (its ``__cause__``): the type name and
    message with any key removed. The SDK's own exception is not kept: its body, request and response can
    echo the request headers, keys included."""


class Provider(abc.ABC):
    """Base class of all providers.

    Lifecycle: constructed with its config and the key store (no I/O, no SDK import) →
    :meth:`availability` may be asked any time → :meth:`stream` called on the hub loop, possibly
    many times concurrently → :meth:`aclose` once when the hub shuts down.
    """

    #: The ``kind`` this class implements (``openai``, ``anthropic``, ``local``, ...). Must be set.
    kind: ClassVar[str] = ""
    #: Environment variables holding the key, looked up in order; empty if no key is needed. Should be set.
    key_envs: ClassVar[tuple[str, ...]] = ()
    #: Options read from ``[providers.NAME]``: name -> expected type(s); settings check tables against
    #: it when they load (unknown key: warning; wrong type: error). May be extended.
    options: ClassVar[Mapping[str, Expected]] = {"models": list}
    #: The provider id in genai-prices' table (None: prices unknown). Should be set.
    price_id: ClassVar[str | None] = None
    #: Models offered without any network call. Should be set.
    curated: ClassVar[tuple[str, ...]] = ()
    #: What this kind can do (per model: :meth:`capabilities_for`). Should be set.
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: ``(import name, extra)`` of the SDK this kind needs, e.g. ``("openai", "openai")``: without it the
    #: provider is unavailable with an install hint. May be set.
    sdk: ClassVar[tuple[str, str] | None] = None
    #: Whether the kind is only usable from a ``[providers.NAME]`` table (e.g. a server's base URL);
    #: otherwise the kind's name is a provider of its own. May be set.
    needs_config: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        legacy = cls.__dict__.get("key_env")  # the interface of 0.1 named one variable
        if isinstance(legacy, str) and "key_envs" not in cls.__dict__:
            cls.key_envs = (legacy,)

    def __init__(self, config: ProviderConfig, keys: KeyStore) -> None:
        """May override (call super). Must not do network I/O or import heavy modules."""
        self.config = config
        self.keys = keys
        self._sdk_found = False

    @property
    def name(self) -> str:
        """The provider name used in ``name:model``."""
        return self.config.name

    @property
    def key_env(self) -> str | None:
        """The main environment variable of the key (the first of :attr:`key_envs`)."""
        return self.key_envs[0] if self.key_envs else None

    def option(self, name: str, default: Any = None) -> Any:
        """The value of ``name`` in this provider's settings table, else ``default``."""
        value = self.config.options.get(name)
        return default if value is None else value

    # -- keys, SDK, availability -------------------------------------------------------------------
    def api_key(self) -> str | None:
        """May override: the key, looked up in the documented order (keys file, keyring, environment)."""
        for env in self.key_envs or (None,):
            key = self.keys.get(self.name, env=env)
            if key:
                return key
        return None

    def require_key(self, model: str = "") -> str | None:
        """The key, or an :class:`AuthError` saying how to set it (None when no key is needed)."""
        if not self.key_envs:
            return self.api_key()
        key = self.api_key()
        if key is None:
            ctx = self.error_context(model)
            raise AuthError(f"{ctx.key_label} is missing or invalid", hint=ctx.keys_hint, provider=self.name)
        return key

    def missing_sdk(self) -> str | None:
        """Why this kind's SDK cannot be imported, or None (a found SDK is remembered)."""
        if self.sdk is None or self._sdk_found:
            return None
        module, extra = self.sdk
        if importlib.util.find_spec(module) is None:
            return f"the {module} SDK is not installed: pip install 'jupyter-ai-sessions[{extra}]'"
        self._sdk_found = True
        return None

    def require_sdk(self) -> None:
        """Raise :class:`MissingSDK` with the install hint if the SDK is missing."""
        reason = self.missing_sdk()
        if reason is not None:
            message, _, hint = reason.partition(": ")
            raise MissingSDK(f"{self.name}: {message}", hint=hint, provider=self.name)

    def availability(self) -> Availability:
        """Should override when more than the SDK and a key is needed (call super)."""
        reason = self.missing_sdk()
        if reason is not None:
            return Availability(False, reason)
        if self.key_envs and self.api_key() is None:
            names = " or ".join(self.key_envs)
            return Availability(False, f"no API key for {self.name}: set {names} or run "
                                       f"`%ai_session keys set {self.name}`")
        return Availability(True)

    async def prepare(self) -> None:
        """May override (call super): one-time slow work before the first request. Default: import the
        SDK, and read the price table when the kind has prices, in a worker thread, so that the hub loop
        (and every other session streaming on it) never stalls on a ~2 s import."""
        if self.sdk is not None and self.sdk[0] not in sys.modules:
            self.require_sdk()
            await asyncio.to_thread(importlib.import_module, self.sdk[0])
        if self.price_id is not None:
            from .. import pricing

            if not pricing.table_loaded():
                await asyncio.to_thread(pricing.load_table)

    def capabilities_for(self, model: str) -> Capabilities:
        """May override: what ``model`` can do (default: the kind's :attr:`capabilities`)."""
        return self.capabilities

    def batch_service(self) -> BatchService | None:
        """May override, with ``Capabilities(batch_api=True)``: this kind's Batch API (see
        :mod:`ai_sessions.providers.batch_api`). Default: none."""
        return None

    # -- replies ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Must override: an async iterator of :class:`TextDelta` then exactly one :class:`Finished`.

        The ``Finished`` rule: a stream that ends without :class:`Finished` is incomplete (the reply
        fails, and is never retried once text arrived), so yield it only when the protocol's own end
        marker arrived. Raise :class:`ProviderError` subclasses for failures (:meth:`mapped` maps SDK
        errors, keeping no key in the exception chain). Cancellation arrives as
        ``asyncio.CancelledError``: close the HTTP stream / stop generation promptly. Do not retry
        inside: the session retries transient errors before the first text.
        """

    async def stream_text(self, request: ChatRequest, on_text: Callable[[str], None]) -> Finished | None:
        """May override, for speed: the reply of :meth:`stream`, handing each non-empty piece of text to
        ``on_text`` as it arrives; returns the :class:`Finished`, or None if the stream ended without one.

        Sessions and batch runs call this. The default iterates :meth:`stream`; an override saves the
        async-iterator step and the :class:`TextDelta` per piece (a few hundred ns, which shows at
        thousands of pieces a second). It must behave exactly like :meth:`stream` and let an exception
        raised by ``on_text`` propagate unchanged (not mapped to a :class:`ProviderError`).
        """
        finished: Finished | None = None
        async for item in self.stream(request):
            if isinstance(item, TextDelta):
                if item.text:
                    on_text(item.text)
            elif isinstance(item, Finished):
                finished = item
        return finished

    # -- errors ----------------------------------------------------------------------------------------
    def error_context(self, model: str = "") -> ErrorContext:
        """May override: what error messages name (provider, key variable, base URL) and scrub (the key)."""
        from .sdk_errors import ErrorContext

        return ErrorContext(self.name, model, self.key_env, None, self.api_key())

    def map_sdk_error(self, error: BaseException, ctx: ErrorContext) -> ProviderError | None:
        """Should override: map this SDK's own exceptions (None for anything else)."""
        return None

    def mapped(self, error: BaseException, model: str = "") -> ProviderError:
        """The :class:`ProviderError` for ``error``, its ``__cause__`` a :class:`ScrubbedError` (none for
        auth errors). Raise it *outside* the ``except`` block that caught ``error``, so that the SDK's
        exception is not kept as ``__context__`` either: ``raise self.mapped(...)`` after the block."""
        if isinstance(error, ProviderError):
            return error
        from .sdk_errors import from_transport

        ctx = self.error_context(model)
        mapped = self.map_sdk_error(error, ctx) or from_transport(error, ctx)
        if mapped is None:
            mapped = ProviderError(f"{self.name} failed: {type(error).__name__}: {ctx.scrub(str(error))[:300]}",
                                   hint="regenerate to try again; see the log for details", provider=self.name)
        if mapped.kind != "auth":
            detail = ScrubbedError(f"{type(error).__module__}.{type(error).__qualname__}: {ctx.scrub(str(error))}")
            mapped.__cause__ = detail
        mapped.__suppress_context__ = True
        return mapped

    def raise_mapped(self, error: BaseException, model: str = "") -> NoReturn:
        """Raise :meth:`mapped` (call it after the ``except`` block; see there)."""
        raise self.mapped(error, model)

    # -- models, costs, lifecycle --------------------------------------------------------------------
    def curated_models(self) -> list[ModelInfo]:
        """Should override: models known without any network call (for the selector and fallbacks)."""
        return [ModelInfo(self.name, m, short_model_name(m)) for m in (self.option("models") or self.curated)]

    async def list_models(self) -> list[ModelInfo]:
        """Should override: the models on offer (live where the API allows, else curated)."""
        return self.curated_models()

    async def test_connection(self) -> None:
        """May override: raise a ProviderError if the provider cannot be reached or the key is bad.
        Default: list the models live."""
        self.require_sdk()
        self.require_key()
        await self.list_models()

    def validate_model(self, model: str) -> str | None:
        """May override: return a reason if ``model`` is certainly unknown to this provider."""
        return None

    def cost(self, model: str, usage: Usage) -> float | None:
        """May override: the USD cost of ``usage`` on ``model`` (default: genai-prices for :attr:`price_id`)."""
        if self.price_id is None:
            return None
        from ..pricing import cost_of

        return cost_of(self.price_id, model, usage)

    async def aclose(self) -> None:
        """May override: release clients and connections."""


def short_model_name(model: str) -> str:
    """A compact display name: drop date stamps and common prefixes (``claude-sonnet-4-5-20250929`` →
    ``sonnet-4-5``)."""
    name = model.rsplit("/", 1)[-1]
    for prefix in ("claude-", "models/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    parts = name.split("-")
    if len(parts) > 1 and parts[-1].isdigit() and len(parts[-1]) == 8:
        parts = parts[:-1]
    return "-".join(parts)

