"""What the SDK-backed providers share: options, key lookup, a lazily made client, the model cache.

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
import importlib.util
import logging
import os
import time
from typing import Any

from ..errors import AuthError, MissingSDK, ProviderError
from .base import Availability, ModelInfo, Provider, short_model_name
from .sdk_errors import ErrorContext, from_transport

log = logging.getLogger(__name__)


class CloudProvider(Provider):
    """Base of providers built on an official SDK. Subclasses set the class attributes and implement
    :meth:`make_client`, :meth:`fetch_models`, :meth:`map_sdk_error` and :meth:`stream`."""

    #: Models offered without any network call. Should be set.
    curated: tuple[str, ...] = ()
    #: The SDK's environment variable for its base URL, shown in messages. May be set.
    base_url_env: str | None = None
    #: The SDK's import name and the extra of jupyter-ai-sessions that installs it. Should be set: without
    #: the SDK the provider is listed unavailable, with the ``pip install`` line, instead of failing on use.
    sdk_module: str | None = None
    sdk_extra: str | None = None
    default_timeout = 60.0
    default_connect_timeout = 10.0
    #: Seconds a live model list stays fresh, and how long fetching it may take.
    models_ttl = 600.0
    list_timeout = 10.0

    def __init__(self, config: Any, keys: Any) -> None:
        super().__init__(config, keys)
        self._client: Any = None
        self._client_id: tuple[Any, ...] | None = None
        self._models: tuple[float, list[ModelInfo]] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._sdk_found = False  # a missing SDK is looked for again: installing it mid-session works

    # -- SDK --------------------------------------------------------------------------------------
    def sdk_missing(self) -> str | None:
        """Why the SDK cannot be imported (naming the extra to install), or None when it can."""
        if self._sdk_found or self.sdk_module is None:
            return None
        try:
            found = importlib.util.find_spec(self.sdk_module) is not None
        except (ImportError, ValueError):  # a parent package (``google``) missing, or a broken entry
            found = False
        if found:
            self._sdk_found = True
            return None
        return f"the {self.sdk_module} SDK is not installed: {self._install_line()}"

    def require_sdk(self) -> None:
        """Raise :class:`MissingSDK` (with the ``pip install`` line as hint) when the SDK is missing."""
        if self.sdk_missing() is not None:
            raise MissingSDK(f"{self.name} cannot be used: the {self.sdk_module} SDK is not installed",
                             hint=self._install_line(), provider=self.name)

    def _install_line(self) -> str:
        return f"pip install 'jupyter-ai-sessions[{self.sdk_extra}]'"

    # -- options ----------------------------------------------------------------------------------
    def option(self, name: str, default: Any = None) -> Any:
        """The value of ``name`` in this provider's settings table, else ``default``."""
        value = self.config.options.get(name)
        return default if value is None else value

    @property
    def timeout(self) -> float:
        return float(self.option("timeout", self.default_timeout))

    @property
    def connect_timeout(self) -> float:
        return float(self.option("connect_timeout", self.default_connect_timeout))

    def base_url(self) -> str | None:
        """The configured base URL (settings first, then the SDK's variable); None for the default."""
        return self.option("base_url") or (os.environ.get(self.base_url_env) if self.base_url_env else None)

    def api_key(self) -> str | None:
        """The key, looked up in the documented order (keys file, keyring, environment)."""
        return self.keys.get(self.name, env=self.key_env)

    def require_key(self, model: str = "") -> str:
        self.require_sdk()  # the first thing missing is the first thing to fix
        key = self.api_key()
        if key is None:
            ctx = self.error_context(model)
            raise AuthError(f"{ctx.key_label} is missing or invalid", hint=ctx.keys_hint, provider=self.name)
        return key

    def error_context(self, model: str = "") -> ErrorContext:
        return ErrorContext(self.name, model, self.key_env, self.base_url(), self.api_key())

    # -- client -----------------------------------------------------------------------------------
    def client(self) -> Any:
        """The SDK client for the running loop and current key; must be called on that loop."""
        key = self.api_key()
        identity = (id(asyncio.get_running_loop()), key, self.base_url())
        if self._client is None or self._client_id != identity:
            self.require_sdk()
            old = self._client
            self._client = self.make_client(key)
            self._client_id = identity
            if old is not None:  # the key or loop changed: close the old client in the background
                task = asyncio.get_running_loop().create_task(self._close_client(old))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        return self._client

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

    # -- errors -----------------------------------------------------------------------------------
    def map_error(self, error: BaseException, model: str = "") -> ProviderError:
        """The :class:`ProviderError` for any exception raised while talking to the provider."""
        if isinstance(error, ProviderError):
            return error
        ctx = self.error_context(model)
        mapped = self.map_sdk_error(error, ctx) or from_transport(error, ctx)
        if mapped is None:
            log.warning("unexpected %s error: %s", self.name, type(error).__name__)
            mapped = ProviderError(f"{self.name} failed: {type(error).__name__}: {ctx.scrub(str(error))[:300]}",
                                   hint="regenerate to try again; see the log for details", provider=self.name)
        return mapped

    @abc.abstractmethod
    def map_sdk_error(self, error: BaseException, ctx: ErrorContext) -> ProviderError | None:
        """Must override: map this SDK's own exceptions (None for anything else)."""

    # -- models -----------------------------------------------------------------------------------
    def curated_models(self) -> list[ModelInfo]:
        """The last live list if fresh, else the curated one (``models`` in settings overrides)."""
        if self._models is not None and time.monotonic() - self._models[0] < self.models_ttl:
            return list(self._models[1])
        names = self.option("models") or self.curated
        return [ModelInfo(self.name, str(m), short_model_name(str(m))) for m in names]

    async def list_models(self) -> list[ModelInfo]:
        """Models from the provider's API (cached for :attr:`models_ttl`); raises a ProviderError."""
        if self._models is not None and time.monotonic() - self._models[0] < self.models_ttl:
            return list(self._models[1])
        try:
            async with asyncio.timeout(self.list_timeout):
                names = await self.fetch_models()
        except Exception as error:
            raise self.map_error(error) from None
        models = [ModelInfo(self.name, n, short_model_name(n)) for n in sorted(set(names))]
        self._models = (time.monotonic(), models)
        return list(models)

    @abc.abstractmethod
    async def fetch_models(self) -> list[str]:
        """Must override: model names from the API (one short call)."""

    def availability(self) -> Availability:
        """Subclasses that override this should return :meth:`sdk_missing` first."""
        if (missing := self.sdk_missing()) is not None:
            return Availability(False, missing)
        if self.key_env is not None and self.api_key() is None:
            return Availability(False, f"no API key for {self.name}: set {self.key_env} or run "
                                       f"`%ai_session keys set {self.name}`")
        return Availability(True)
