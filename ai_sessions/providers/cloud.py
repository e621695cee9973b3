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
        key = self.api_key()
        identity = (id(asyncio.get_running_loop()), key, self.base_url())
        if self._client is None or self._client_id != identity:
            old = self._client
            self._client = self.make_client(key)
            self._client_id = identity
            if old is not None:  # the key or loop changed: close the old client in the background
                task = asyncio.get_running_loop().create_task(self._close_client(old))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        return self._client

    async def prepare(self) -> None:
        """Import the SDK (see :meth:`Provider.prepare`), then make the client in a worker thread too:
        building an SDK client (TLS context, transports, lazily imported resources) takes 0.1 to 0.3 s the
        first time."""
        await super().prepare()
        if self._client is not None:
            return
        key = self.api_key()

        def build() -> Any:
            client = self.make_client(key)
            for path in self.client_resources:
                target = client
                for name in path.split("."):
                    target = getattr(target, name)
            return client

        try:
            client = await asyncio.to_thread(build)
        except Exception:  # the request makes it again and reports the error as a ProviderError
            log.debug("making the %s client ahead of the request failed", self.name, exc_info=True)
            return
        if self._client is None:  # else another reply made one meanwhile: keep that one
            self._client, self._client_id = client, (id(asyncio.get_running_loop()), key, self.base_url())
        else:
            await self._close_client(client)

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
