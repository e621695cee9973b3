"""Cost from genai-prices (S11): offline, covering every curated model, None when unknown."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ai_sessions.keys import KeyStore
from ai_sessions.model import Usage
from ai_sessions.providers import provider_class
from ai_sessions.providers.anthropic import AnthropicProvider
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.providers.gemini import GeminiProvider
from ai_sessions.providers.openai import AzureOpenAIProvider, OpenAIProvider

USAGE = Usage(input_tokens=1000, output_tokens=500)


def cost_of(kind: str, model: str, usage: Usage) -> float | None:
    """The cost a provider of ``kind`` reports (prices come from the kind's declared price id)."""
    try:
        cls = provider_class(kind)
    except Exception:
        return None
    return cls(ProviderConfig(kind, kind), KeyStore(Path("unused.json"), use_keyring=False)).cost(model, usage)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: prices must come from the installed package."""

    def refuse(*args, **kwargs):
        raise AssertionError("pricing tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("provider_class", [OpenAIProvider, AnthropicProvider, GeminiProvider])
def test_every_curated_model_has_a_price(provider_class):
    for model in provider_class.curated:
        cost = cost_of(provider_class.kind, model, USAGE)
        assert cost is not None and cost > 0, f"{provider_class.kind}:{model} has no price"


def test_prices_scale_with_tokens_and_accept_dated_names():
    small = cost_of("openai", "gpt-4o-mini", Usage(100, 10))
    large = cost_of("openai", "gpt-4o-mini", Usage(100_000, 10_000))
    assert small is not None and large is not None and large == pytest.approx(small * 1000)
    assert cost_of("anthropic", "claude-haiku-4-5-20251001", USAGE) == cost_of("anthropic", "claude-haiku-4-5", USAGE)


def test_azure_uses_the_azure_price_table():
    assert AzureOpenAIProvider.price_id == "azure"
    assert cost_of("azure", "gpt-4o", USAGE) is not None


def test_cached_input_tokens_are_priced_as_cache_reads():
    plain = cost_of("anthropic", "claude-sonnet-4-5", Usage(1000, 100))
    cached = cost_of("anthropic", "claude-sonnet-4-5", Usage(1000, 100, cache_read_tokens=800))
    assert plain is not None and cached is not None and cached < plain


@pytest.mark.parametrize("kind, model", [("openai", "no-such-model"), ("openai-compatible", "llama3.2"),
                                         ("gemini", "gemini-0-imaginary"), ("mycloud", "x")])
def test_unknown_price_is_none(kind, model):
    assert cost_of(kind, model, USAGE) is None


def test_local_models_cost_nothing():
    assert cost_of("local", "smollm2", USAGE) == 0.0
