"""What the SDK-backed providers share: timeouts, a lazily made client, the live model cache.

Options common to every cloud provider (``[providers.NAME]`` in settings.toml)::

    base_url = "http://localhost:8080/v1"   # else the SDK's own variable (OPENAI_BASE_URL, ...)
    timeout = 60            # seconds to wait for the next bytes of a reply
    connect_timeout = 10    # seconds to connect
    models = ["gpt-4o-mini", "gpt-4o"]      # the curated list shown without network

SDK clients are made inside the first async call, on the loop that uses them (the hub loop), and
remade if the key changes. Their own retries are off: sessions retry (see :mod:`ai_sessions.retry`).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import os
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from .base import ModelInfo, Provider, short_model_name
from .options import CLOUD_OPTIONS, Expected
from .sdk_errors import ErrorContext

log = logging.getLogger(__name__)


class CloudProvider(Provider):
    """Base of providers built on an official SDK. Subclasses set the class attributes and implement
    :meth:`make_client`, :meth:`fetch_models`, :meth:`map_sdk_error` and :meth:`stream`."""

    options: ClassVar[Mapping[str, Expected]] = CLOUD_OPTIONS
    #: The SDK's environment variable for its base URL, shown in messages. May be set.
    base_url_env: ClassVar[str | None] = None
    default_timeout = 60.0
    default_connect_timeout = 10.0
    #: Seconds a live model list stays fresh, and how long fetching it may take.
    models_ttl = 600.0
    list_timeout = 10.0
    #: Attributes of the client that the SDK imports lazily on first access (``"chat.completions"``),
    #: touched in the worker thread that makes the client (see :meth:`prepare`). May be set.
    client_resources: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, keys: Any) -> None:
        super().__init__(config, keys)
        self._client: Any = None
        self._client_id: tuple[Any, ...] | None = None
        self._models: tuple[float, list[ModelInfo]] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    # -- options ----------------------------------------------------------------------------------
    @property
    def timeout(self) -> float:
        return float(self.option("timeout", self.default_timeout))

    @property
    def connect_timeout(self) -> float:
        return float(self.option("connect_timeout", self.default_connect_timeout))

    def base_url(self) -> str | None:
        """The configured base URL (settings first, then the SDK's variable); None for the default."""
        return self.option("base_url") or (os.environ.get(self.base_url_env) if self.base_url_env else None)

    def error_context(self, model: str = "") -> ErrorContext:
        return ErrorContext(self.name, model, self.key_env, self.base_url(), self.api_key())

    # -- client -----------------------------------------------------------------------------------
    def client(self) -> Any:
        """The SDK client for the running loop and current key; must be called on that loop."""
        self.require_sdk()
        identity = self._identity()
        if self._client is None or self._client_id != identity:
            self._use_client(self.make_client(identity[1]), identity)
        return self._client

    async def prepare(self) -> None:
        """Import the SDK (see :meth:`Provider.prepare`), then make the client in a worker thread too: a
        new client loads the CA certificates into an SSL context (three for Gemini) and imports the SDK's
        HTTP stack, 50-150 ms of work that would stall every session streaming on the hub loop."""
        await super().prepare()
        if self._client is not None:  # made before (client() remakes it if the key or loop changed)
            return
        identity = self._identity()
        client = await asyncio.to_thread(self._warm_client, identity[1])
        if client is None:  # making it failed: the request makes it again and reports why
            return
        if self._client is None:
            self._use_client(client, identity)
        else:  # another reply made one meanwhile
            self._close_later(client)

    def _identity(self) -> tuple[Any, ...]:
        return (id(asyncio.get_running_loop()), self.api_key(), self.base_url())

    def _use_client(self, client: Any, identity: tuple[Any, ...]) -> None:
        old, self._client, self._client_id = self._client, client, identity
        if old is not None:  # the key or loop changed: close the old client in the background
            self._close_later(old)

    def _close_later(self, client: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._close_client(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _warm_client(self, key: str | None) -> Any:
        """(worker thread) A new client, warmed; None if making it failed."""
        try:
            client = self.make_client(key)
        except Exception:
            log.debug("making the %s client failed", self.name, exc_info=True)
            return None
        try:
            self.warm(client)
        except Exception:
            log.debug("warming the %s client failed", self.name, exc_info=True)
        return client

    def warm(self, client: Any) -> None:
        """May override (call super): load what the SDK would load lazily on the first request (modules,
        model schemas), so that it happens in :meth:`prepare`'s worker thread, not on the hub loop. Public
        APIs only; a warm-up that fails is logged and ignored (the request then does the work). Default:
        touch the resources named by :attr:`client_resources`."""
        for path in self.client_resources:
            target = client
            for name in path.split("."):
                target = getattr(target, name)

    @abc.abstractmethod
    def make_client(self, key: str | None) -> Any:
        """Must override: a new SDK client (imports the SDK; no network), with SDK retries off."""

    async def _close_client(self, client: Any) -> None:
        try:
            await client.close()
        except Exception:  # closing must never fail a reply or shutdown
            log.debug("closing %s client failed", self.name, exc_info=True)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client, self._client_id = self._client, None, None
            await self._close_client(client)

    # -- models -----------------------------------------------------------------------------------
    def curated_models(self) -> list[ModelInfo]:
        """The last live list if fresh, else the curated one (``models`` in settings overrides)."""
        if self._models is not None and time.monotonic() - self._models[0] < self.models_ttl:
            return list(self._models[1])
        return super().curated_models()

    async def list_models(self) -> list[ModelInfo]:
        """Models from the provider's API (cached for :attr:`models_ttl`); raises a ProviderError."""
        if self._models is not None and time.monotonic() - self._models[0] < self.models_ttl:
            return list(self._models[1])
        failure = None
        try:
            async with asyncio.timeout(self.list_timeout):
                names = await self.fetch_models()
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure
        models = [ModelInfo(self.name, n, short_model_name(n)) for n in sorted(set(names))]
        self._models = (time.monotonic(), models)
        return list(models)

    @abc.abstractmethod
    async def fetch_models(self) -> list[str]:
        """Must override: model names from the API (one short call)."""

    async def test_connection(self) -> None:
        self._models = None
        await super().test_connection()
