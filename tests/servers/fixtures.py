"""Pytest fixtures for the fake provider servers; import them into a test module to use them.

``openai_server``, ``anthropic_server`` and ``gemini_server`` start a server on 127.0.0.1 and point the
SDK's own environment variables (base URL and key) at it; ``cloud_hub`` builds a hub whose providers
use short timeouts; ``fast_retries`` removes backoff waits so retry tests stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ai_sessions.hub import SessionHub
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Settings

from .anthropic_wire import AnthropicProtocol
from .base import KEY, ProviderServer
from .gemini_wire import GeminiProtocol
from .openai_wire import OpenAIProtocol

OPENAI_MODELS = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"]
ANTHROPIC_MODELS = ["claude-sonnet-4-6", "claude-haiku-4-5"]
GEMINI_MODELS = ["gemini-2.5-flash", "gemini-2.5-pro"]
TIMEOUT = 0.75


def _serve(protocol: Any, models: list[str]) -> Iterator[ProviderServer]:
    server = ProviderServer(protocol, model_names=list(models))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderServer]:
    for server in _serve(OpenAIProtocol(), OPENAI_MODELS):
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        yield server


@pytest.fixture
def anthropic_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderServer]:
    for server in _serve(AnthropicProtocol(), ANTHROPIC_MODELS):
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        yield server


@pytest.fixture
def gemini_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderServer]:
    for server in _serve(GeminiProtocol(), GEMINI_MODELS):
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        yield server


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without backoff waits (Retry-After is still parsed and capped at 10 ms)."""
    import ai_sessions.retry as retry

    monkeypatch.setattr(retry, "_backoff", lambda state: 0.0)
    monkeypatch.setattr(retry, "MAX_RETRY_AFTER_S", 0.01)


def provider_settings(timeout: float = TIMEOUT, **extra: dict[str, Any]) -> Settings:
    """Settings with short timeouts for the built-in cloud providers, plus ``extra`` provider tables."""
    providers = {name: ProviderConfig(name, name, {"timeout": timeout})
                 for name in ("openai", "anthropic", "gemini")}
    for name, options in extra.items():
        options = dict(options)
        kind = options.pop("kind", name)
        providers[name] = ProviderConfig(name, kind, options)
    return Settings(providers=providers)


@pytest.fixture
def cloud_hub(make_hub: Callable[..., SessionHub], fast_retries: None) -> SessionHub:
    return make_hub(settings=provider_settings())
