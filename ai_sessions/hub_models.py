"""The hub's models and providers: provider instances (made once per hub), availability, model lists and
the fallback rules. Mixed into :class:`ai_sessions.hub.SessionHub`, whose settings, keys, loop and
provider cache it works on; see docs/architecture.md, "Models, providers and fallback".
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import warnings
from typing import TYPE_CHECKING

from .errors import AiSessionsError, UnknownModel
from .model import Event, EventKind, Usage
from .providers import provider_class, split_model
from .providers.base import Availability, ModelInfo, Provider
from .settings import LOCAL_MODEL, Settings

if TYPE_CHECKING:
    from .keys import KeyStore
    from .loop import HubLoop
    from .session import Session

log = logging.getLogger(__name__)


class FallbackWarning(UserWarning):
    """A session's model cannot be used, so another one answers (shown once per session and reason)."""


class HubModels:
    """Model resolution with fallback, provider lookup and model listing (the public part is documented
    on :class:`~ai_sessions.hub.SessionHub`)."""

    settings: Settings
    keys: KeyStore
    _loop: HubLoop
    _providers: dict[str, Provider]
    _provider_lock: threading.Lock

    def _emit(self, event: Event) -> None:
        raise NotImplementedError  # SessionHub's

    def resolve_model(self, full_name: str, *, strict: bool = False) -> tuple[str, str | None]:
        """``(model to use, why it differs from full_name or None)``, applying the fallback rules (S4).
        With ``strict``, a malformed name raises :class:`UnknownModel` instead."""
        reason = self._unusable(full_name, strict=strict)
        if reason is None:
            return full_name, None
        default = self.settings.defaults.model
        if default != full_name and self._unusable(default) is None:
            return default, reason
        if full_name == LOCAL_MODEL:  # nothing to fall back to: the reply itself reports the problem
            return full_name, None
        return LOCAL_MODEL, reason

    def _unusable(self, full_name: str, *, strict: bool = False) -> str | None:
        try:
            provider_name, model = split_model(full_name)
        except UnknownModel:
            if strict:
                raise
            return f"{full_name!r} is not a 'provider:model' name"
        availability = self.provider_availability(provider_name)
        if not availability.ok:
            return availability.reason
        instance = self._provider_instance(provider_name)
        return instance.validate_model(model) if instance else None

    def provider_availability(self, provider_name: str) -> Availability:
        """Whether ``provider_name`` can be used now, and why not."""
        config = self.settings.provider_config(provider_name)
        if config is None:
            return Availability(False, f"unknown provider {provider_name!r}: declare it under "
                                       f"[providers.{provider_name}] in settings.toml")
        try:
            instance = self._provider_instance(provider_name)
            assert instance is not None
            return instance.availability()
        except Exception as exc:  # a broken plugin or keys file must mean "unusable, here is why", not a crash
            detail = str(exc) if isinstance(exc, AiSessionsError | ImportError) else f"{type(exc).__name__}: {exc}"
            log.debug("provider %s is unusable", provider_name, exc_info=True)
            return Availability(False, f"provider {provider_name!r} cannot load: {detail}")

    def provider_names(self) -> list[str]:
        from .providers import BUILTIN_PROVIDERS

        return list(dict.fromkeys([*BUILTIN_PROVIDERS, *self.settings.providers]))

    def models(self) -> list[ModelInfo]:
        """Models of every provider (curated or cached lists; no network), unavailable ones with reasons."""
        result: list[ModelInfo] = []
        for name in self.provider_names():
            availability = self.provider_availability(name)
            instance = None
            try:
                instance = self._provider_instance(name)
            except Exception:
                pass
            offered = instance.curated_models() if instance else []
            for info in offered:
                result.append(ModelInfo(info.provider, info.name, info.short_name, availability.ok,
                                        availability.reason))
        return result

    def refresh_models(self, timeout: float = 15.0) -> list[ModelInfo]:
        """Ask every usable provider for its live model list (cached by the provider), then return
        :meth:`models`. A provider that fails keeps its curated list; the failure is logged."""

        async def refresh() -> None:
            async def one(name: str) -> None:
                try:
                    instance = self._provider_instance(name)
                    if instance is not None and instance.availability().ok:
                        await instance.list_models()
                except Exception as exc:
                    log.info("could not list models of %s: %s", name, exc)

            await asyncio.gather(*(one(name) for name in self.provider_names()))

        self._loop.run(refresh(), timeout=timeout, what="refresh_models()")
        return self.models()

    def _provider_instance(self, name: str) -> Provider | None:
        with self._provider_lock:
            if name not in self._providers:
                config = self.settings.provider_config(name)
                if config is None:
                    return None
                self._providers[name] = provider_class(config.kind)(config, self.keys)
            return self._providers[name]

    async def _provider(self, name: str) -> Provider:
        instance = self._provider_instance(name)
        if instance is None:
            raise UnknownModel(f"unknown provider {name!r}")
        return instance

    def _cost(self, full_model: str, usage: Usage | None) -> float | None:
        if usage is None:
            return None
        from .pricing import cost_of

        provider_name, model = split_model(full_model)
        config = self.settings.provider_config(provider_name)
        return cost_of(config.kind if config else provider_name, model, usage)

    def _notify_fallback(self, session: Session, model: str, reason: str) -> None:
        message = f"session {session.name!r}: {reason}; using {model} instead"
        log.info(message)  # the warning below is what the user sees; logging it too would show it twice
        warnings.warn(FallbackWarning(message), stacklevel=_caller_stacklevel())
        self._emit(Event(EventKind.SESSION_UPDATED, session.id, {"fallback": {"model": model, "reason": reason}}))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside this package, so a warning names the user's line."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
