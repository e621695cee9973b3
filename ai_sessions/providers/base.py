"""The provider interface: what every model backend implements.

Each method says whether a subclass **must**, **should** or **may** override it.
A provider instance serves one provider name (``openai``, ``ollama``, ...) and any of its models;
it is created lazily on the hub loop, used only there, and closed with :meth:`Provider.aclose`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model import Usage

if TYPE_CHECKING:
    from ..keys import KeyStore


@dataclass(frozen=True)
class ChatTurn:
    """One turn of history in provider-neutral form. ``role`` is ``user`` or ``assistant``."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """What a provider is asked to do: continue ``turns`` with ``model``."""

    model: str
    turns: tuple[ChatTurn, ...]
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of reply text, in order."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The protocol's own end of a reply, with the provider's usage report when it sent one."""

    usage: Usage | None = None
    finish_reason: str | None = None


StreamItem = TextDelta | Finished


@dataclass(frozen=True)
class ModelInfo:
    """A model a provider offers. ``short_name`` fits a narrow selector."""

    provider: str
    name: str
    short_name: str
    available: bool = True
    reason: str | None = None

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


class Provider(abc.ABC):
    """Base class of all providers.

    Lifecycle: constructed with its config and the key store (no I/O, no SDK import needed yet) →
    :meth:`availability` may be asked any time → :meth:`stream` called on the hub loop, possibly
    many times concurrently → :meth:`aclose` once when the hub shuts down.
    """

    #: The ``kind`` this class implements (``openai``, ``anthropic``, ``local``, ...). Must be set.
    kind: str = ""
    #: Environment variable holding this provider's key, or None if it needs no key. Should be set.
    key_env: str | None = None

    def __init__(self, config: ProviderConfig, keys: KeyStore) -> None:
        """May override (call super). Must not do network I/O or import heavy modules."""
        self.config = config
        self.keys = keys

    @property
    def name(self) -> str:
        """The provider name used in ``name:model``."""
        return self.config.name

    def availability(self) -> Availability:
        """Should override when more than a key is needed. Default: usable when a key is found."""
        if self.key_env is None:
            return Availability(True)
        if self.keys.get(self.name, env=self.key_env) is None:
            return Availability(False, f"no API key for {self.name}: set {self.key_env} or run "
                                       f"`%ai_session keys set {self.name}`")
        return Availability(True)

    @abc.abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Must override: an async iterator of :class:`TextDelta` then exactly one :class:`Finished`.

        A stream that ends without :class:`Finished` is treated as incomplete (failed).
        Raise :class:`ai_sessions.errors.ProviderError` subclasses for failures. Cancellation
        arrives as ``asyncio.CancelledError``: close the HTTP stream / stop generation promptly.
        Do not retry inside: the session retries transient errors before the first delta.
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

    def curated_models(self) -> list[ModelInfo]:
        """Should override: models known without any network call (for the selector and fallbacks)."""
        return []

    async def list_models(self) -> list[ModelInfo]:
        """Should override: the models on offer (live where the API allows, else curated)."""
        return self.curated_models()

    async def test_connection(self) -> None:
        """May override: raise a ProviderError if the provider cannot be reached or the key is bad."""
        await self.list_models()

    def validate_model(self, model: str) -> str | None:
        """May override: return a reason if ``model`` is certainly unknown to this provider."""
        return None

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
