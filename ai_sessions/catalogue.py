"""The model catalogue: provider instances (made once per hub), availability, capabilities, model lists,
costs and the fallback rules (S4). The hub delegates to it; sessions and batch runs use it through their
:class:`~ai_sessions.runtime.Runtime`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
import warnings
from typing import TYPE_CHECKING

from .errors import AiSessionsError, UnknownModel
from .model import Usage
from .providers import default_provider_names, provider_class, split_model
from .providers.base import Availability, Capabilities, ModelInfo, Provider
from .settings import AUTO, LOCAL_MODEL, Settings

if TYPE_CHECKING:
    from .keys import KeyStore
    from .loop import HubLoop

log = logging.getLogger(__name__)


class FallbackWarning(UserWarning):
    """A session's model cannot be used, so another one answers (shown once per session and reason)."""


class ModelCatalogue:
    """Every provider and model of one hub: what can be used now, and what answers instead (fallback)."""

    def __init__(self, settings: Settings, keys: KeyStore, loop: HubLoop) -> None:
        self.settings = settings
        self.keys = keys
        self._loop = loop
        self._providers: dict[str, Provider] = {}
        self._offered: list[str] = []
        self._lock = threading.Lock()
        self._cooling: dict[str, tuple[float, str]] = {}  # model -> (clock time it may be used again, why)
        #: The clock of cool-downs (seconds, monotonic); tests may replace it.
        self.clock = time.monotonic

    # -- resolution -------------------------------------------------------------------------------
    def resolve(self, full_name: str, *, strict: bool = False) -> tuple[str, str | None]:
        """``(model to use, why it differs from full_name or None)``, applying the fallback rules (S4).
        With ``strict``, a malformed name raises :class:`UnknownModel` instead. ``"auto"`` stays ``"auto"``:
        such a session picks a model per reply (:mod:`ai_sessions.auto`)."""
        if full_name == AUTO:
            return AUTO, None
        reason = self.unusable(full_name, strict=strict)
        if reason is None:
            return full_name, None
        default = self.settings.defaults.model
        if default != full_name and self.unusable(default) is None:
            return default, reason
        if full_name == LOCAL_MODEL:  # nothing to fall back to: the reply itself reports the problem
            return full_name, None
        return LOCAL_MODEL, reason

    def unusable(self, full_name: str, *, strict: bool = False) -> str | None:
        """Why ``full_name`` cannot answer now, or None."""
        try:
            provider_name, model = split_model(full_name)
        except UnknownModel:
            if strict:
                raise
            return f"{full_name!r} is not a 'provider:model' name"
        availability = self.availability(provider_name)
        if not availability.ok:
            return availability.reason
        instance = self.instance(provider_name)
        return instance.validate_model(model) if instance else None

    def availability(self, provider_name: str) -> Availability:
        """Whether ``provider_name`` can be used now, and why not."""
        config = self.settings.provider_config(provider_name)
        if config is None:
            return Availability(False, f"unknown provider {provider_name!r}: declare it under "
                                       f"[providers.{provider_name}] in settings.toml")
        try:
            instance = self.instance(provider_name)
            assert instance is not None
            return instance.availability()
        except Exception as exc:  # a broken plugin or keys file must mean "unusable, here is why", not a crash
            detail = str(exc) if isinstance(exc, AiSessionsError | ImportError) else f"{type(exc).__name__}: {exc}"
            log.debug("provider %s is unusable", provider_name, exc_info=True)
            return Availability(False, f"provider {provider_name!r} cannot load: {detail}")

    def capabilities(self, full_name: str) -> Capabilities:
        """What ``full_name`` can do (nothing beyond text if its provider cannot load)."""
        provider_name, model = split_model(full_name)
        try:
            instance = self.instance(provider_name)
        except Exception:
            instance = None
        return instance.capabilities_for(model) if instance is not None else Capabilities()

    # -- listing ------------------------------------------------------------------------------------
    def provider_names(self) -> list[str]:
        """Every provider: the installed kinds that need no settings table, then the settings' tables, then
        those offered by this hub (its Python functions)."""
        return list(dict.fromkeys([*default_provider_names(), *self.settings.providers, *self._offered]))

    def offer(self, name: str) -> None:
        """List provider ``name`` among the others from now on (``hub.register_model`` offers ``python``)."""
        with self._lock:
            if name not in self._offered:
                self._offered.append(name)

    def models(self) -> list[ModelInfo]:
        """Models of every provider (curated or cached lists; no network), unavailable ones with reasons.
        A usable provider that names no model (e.g. Azure without deployments) is listed with a hint."""
        result: list[ModelInfo] = []
        for name in self.provider_names():
            availability = self.availability(name)
            try:
                instance = self.instance(name)
            except Exception:
                instance = None
            offered = instance.curated_models() if instance else []
            for info in offered:
                caps = instance.capabilities_for(info.name) if instance else None
                result.append(ModelInfo(info.provider, info.name, info.short_name, availability.ok,
                                        availability.reason, caps))
            if instance is not None and not offered and name in self.settings.providers:
                result.append(ModelInfo(name, "", "(no models)", False,
                                        f"{name} names no model: add models = [...] (or deployments) under "
                                        f"[providers.{name}] in settings.toml"))
        return result

    def refresh(self, timeout: float = 15.0) -> list[ModelInfo]:
        """Ask every usable provider for its live model list (cached by the provider), then return
        :meth:`models`. A provider that fails keeps its curated list; the failure is logged."""

        async def refresh() -> None:
            async def one(name: str) -> None:
                try:
                    instance = self.instance(name)
                    if instance is not None and instance.availability().ok:
                        await instance.list_models()
                except Exception as exc:
                    log.info("could not list models of %s: %s", name, exc)

            await asyncio.gather(*(one(name) for name in self.provider_names()))

        self._loop.run(refresh(), timeout=timeout, what="refresh_models()")
        return self.models()

    # -- instances and costs ------------------------------------------------------------------------------
    def instance(self, name: str) -> Provider | None:
        """The provider instance of ``name`` (made once), or None if no settings or kind declare it."""
        with self._lock:
            if name not in self._providers:
                config = self.settings.provider_config(name)
                if config is None:
                    return None
                self._providers[name] = provider_class(config.kind)(config, self.keys)
            return self._providers[name]

    def provider(self, name: str) -> Provider:
        """The provider instance of ``name``; raises :class:`UnknownModel` if there is none."""
        instance = self.instance(name)
        if instance is None:
            if name == AUTO:
                raise UnknownModel("model 'auto' picks a model per reply, and this needs one fixed model",
                                   hint="use a session with a fixed model, e.g. hub.session('batch', "
                                        "model='openai:gpt-4o-mini')")
            raise UnknownModel(f"unknown provider {name!r}")
        return instance

    def cost(self, full_model: str, usage: Usage | None) -> float | None:
        """USD cost of ``usage`` on ``full_model`` (None when unknown)."""
        if usage is None:
            return None
        provider_name, model = split_model(full_model)
        try:
            instance = self.instance(provider_name)
        except Exception:
            return None
        return instance.cost(model, usage) if instance is not None else None

    # -- cool-downs (model="auto" avoids a model that just failed) -----------------------------------------
    def cool_down(self, full_name: str, seconds: float, reason: str) -> None:
        """Avoid ``full_name`` in ``model="auto"`` choices for ``seconds`` (it failed: ``reason``)."""
        with self._lock:
            self._cooling[full_name] = (self.clock() + seconds, reason)

    def cooling(self, full_name: str) -> tuple[float, str] | None:
        """``(seconds left, why)`` while ``full_name`` is cooling down after a failure, else None."""
        entry = self._cooling.get(full_name)
        if entry is None:
            return None
        left = entry[0] - self.clock()
        if left <= 0:
            with self._lock:
                self._cooling.pop(full_name, None)
            return None
        return left, entry[1]

    async def aclose(self) -> None:
        """Close every provider instance (hub shutdown)."""
        await asyncio.gather(*(p.aclose() for p in list(self._providers.values())), return_exceptions=True)


def warn_fallback(session_name: str, model: str, reason: str) -> None:
    """Tell the user (once per session and reason, the caller decides) that ``model`` answers instead,
    as a :class:`FallbackWarning` pointed at the user's own line."""
    message = f"session {session_name!r}: {reason}; using {model} instead"
    log.info(message)  # the warning below is what the user sees; logging it too would show it twice
    warnings.warn(FallbackWarning(message), stacklevel=_caller_stacklevel())


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside this package, so a warning names the user's line."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
