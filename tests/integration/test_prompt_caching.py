"""Prompt caching in maps, on the fake servers' deterministic caches: the shared prefix (system prompt and the
template's fixed text) goes first and, for Anthropic, is marked; cache reads and writes are recorded in each
item's usage, priced with genai-prices' cache prices (at the Batch API's discount in batch jobs) and summed
in the job's and the result's totals."""

from __future__ import annotations

import pytest

from ai_sessions import EventKind
from ai_sessions.model import Usage
from tests.servers.base import KEY, ProviderServer
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    GEMINI_MODELS,
    OPENAI_MODELS,
    anthropic_server,
    cloud_hub,
    fast_retries,
    provider_settings,
)
from tests.servers.gemini_wire import GeminiProtocol
from tests.servers.openai_wire import OpenAIProtocol

SYSTEM = "You label customer reviews for a shop. Answer pos or neg, nothing else. " * 10
TEMPLATE = "Label this review. Think of tone and of the words used. Review: {text}"
TEXTS = ["great value", "broke in a day", "works as described", "never again"]


def _finish_when_submitted(hub, server) -> None:
    hub.on(EventKind.JOB_SUBMITTED, lambda e: server.batches.finish(e.payload["provider_job_id"])
           if e.payload.get("mode") == "batch" else None)


def _uncached(usage: Usage) -> Usage:
    return Usage(usage.input_tokens, usage.output_tokens)


def test_an_anthropic_batch_job_writes_the_prefix_once_and_reads_it_after(cloud_hub, anthropic_server):  # noqa: F811
    _finish_when_submitted(cloud_hub, anthropic_server)
    s = cloud_hub.session("labels", model="anthropic:claude-haiku-4-5", system_prompt=SYSTEM)
    results = s.map(TEMPLATE, TEXTS, mode="batch")
    first, *rest = results.items
    assert first.usage.cache_write_tokens > 0 and first.usage.cache_read_tokens == 0
    assert all(i.usage.cache_read_tokens == first.usage.cache_write_tokens and i.usage.cache_write_tokens == 0
               for i in rest)
    catalogue = cloud_hub.runtime.catalogue
    for item in rest:  # priced with cache reads, at half the price
        assert item.cost == pytest.approx(catalogue.cost(s.model, item.usage) * 0.5)
        assert item.cost < catalogue.cost(s.model, _uncached(item.usage)) * 0.5
    job = results.job
    assert job.usage == results.usage == Usage.total(i.usage for i in results.items)
    assert job.usage.cache_read_tokens == 3 * first.usage.cache_write_tokens
    assert job.cost == pytest.approx(results.cost)
    params = anthropic_server.batches.latest().items[0].request
    assert params["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert params["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def _server(protocol, models, monkeypatch, env):
    server = ProviderServer(protocol, model_names=list(models))
    for name, value in env(server).items():
        monkeypatch.setenv(name, value)
    return server


@pytest.mark.usefixtures("fast_retries")
def test_openai_automatic_caching_is_recorded_and_priced(make_hub, monkeypatch):
    server = _server(OpenAIProtocol(implicit_cache=True), OPENAI_MODELS, monkeypatch,
                     lambda s: {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{s.url}/v1"})
    try:
        hub = make_hub(settings=provider_settings())
        _finish_when_submitted(hub, server)
        s = hub.session("labels", model="openai:gpt-4o-mini", system_prompt=SYSTEM)
        live = s.map(TEMPLATE, TEXTS[:2], concurrency=1)
        assert live.items[0].usage.cache_read_tokens == 0 and live.items[1].usage.cache_read_tokens > 0
        batch = s.map(TEMPLATE, TEXTS, mode="batch")
        assert all(i.usage.cache_read_tokens > 0 for i in batch.items)  # the system message was seen live
        item = batch.items[0]
        assert item.cost == pytest.approx(hub.runtime.catalogue.cost(s.model, item.usage) * 0.5)
        assert item.cost < hub.runtime.catalogue.cost(s.model, _uncached(item.usage)) * 0.5
        first_message = server.batches.latest().items[0].request["messages"]
        assert first_message[0] == {"role": "system", "content": SYSTEM}
        assert first_message[1]["content"].startswith("Label this review.")  # the fixed text first
    finally:
        server.stop()


@pytest.mark.usefixtures("fast_retries")
def test_gemini_implicit_caching_reads_the_shared_prefix(make_hub, monkeypatch):
    server = _server(GeminiProtocol(implicit_cache=True), GEMINI_MODELS, monkeypatch,
                     lambda s: {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": s.url})
    try:
        hub = make_hub(settings=provider_settings())
        s = hub.session("labels", model="gemini:gemini-2.5-flash", system_prompt=SYSTEM)
        results = s.map(TEMPLATE, TEXTS, concurrency=1)
        first, *rest = results.items
        assert first.usage.cache_read_tokens == 0
        assert {i.usage.cache_read_tokens for i in rest} == {rest[0].usage.cache_read_tokens} != {0}
        assert results.cost < sum(hub.runtime.catalogue.cost(s.model, _uncached(i.usage)) for i in results.items)
        parts = server.streams()[0].body["contents"][0]["parts"]
        assert [p["text"] for p in parts] == ["Label this review. Think of tone and of the words used. Review: ",
                                              "great value"]
    finally:
        server.stop()
