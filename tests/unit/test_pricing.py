"""Cost from genai-prices (S11): offline, covering every curated model, None when unknown."""

from __future__ import annotations

import socket

import pytest

from ai_sessions.model import Usage
from ai_sessions.pricing import _PROVIDER_IDS, cost_of
from ai_sessions.providers.anthropic import AnthropicProvider
from ai_sessions.providers.gemini import GeminiProvider
from ai_sessions.providers.openai import OpenAIProvider

USAGE = Usage(input_tokens=1000, output_tokens=500)


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
    assert _PROVIDER_IDS["azure"] == "azure"
    assert cost_of("azure", "gpt-4o", USAGE) is not None


@pytest.mark.parametrize("kind, model", [("openai", "no-such-model"), ("openai-compatible", "llama3.2"),
                                         ("gemini", "gemini-0-imaginary"), ("mycloud", "x")])
def test_unknown_price_is_none(kind, model):
    assert cost_of(kind, model, USAGE) is None


def test_local_models_cost_nothing():
    assert cost_of("local", "smollm2", USAGE) == 0.0
