"""Maps as jobs, through the real SDKs against the fake servers: typed results (a DataFrame aligned with the
input), live maps kept in the store, batch jobs through each provider's Batch API (partly failed, expired,
cancelled), exactly-once results, reruns, dry runs and the confirmation threshold."""

from __future__ import annotations

import builtins
from typing import Literal

import pandas as pd
import pytest
from pydantic import BaseModel

import ai_sessions.jobs as jobs_module
from ai_sessions import EventKind
from ai_sessions.errors import AiSessionsError
from ai_sessions.estimate import Estimate
from ai_sessions.settings import BatchSettings
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    anthropic_server,
    cloud_hub,
    fast_retries,
    gemini_server,
    openai_server,
    provider_settings,
)

REVIEWS = pd.Series(["great value", "broke in a day", "[[bad]] spam", "works"], index=[10, 20, 30, 40])


class Review(BaseModel):
    sentiment: Literal["pos", "neg"]
    score: int


def _finish_when_submitted(hub, server, **finish):
    """Let the provider finish each batch job as soon as it is submitted (on the hub thread, no waiting);
    returns the function that stops it."""
    def done(event):
        if event.payload.get("mode") == "batch":
            server.batches.finish(event.payload["provider_job_id"], **finish)

    return hub.on(EventKind.JOB_SUBMITTED, done)


# -- live --------------------------------------------------------------------------------------------------
def test_a_typed_live_map_gives_a_dataframe_aligned_with_the_input(cloud_hub, openai_server):  # noqa: F811
    openai_server.fail("context", tag="bad")  # that item's request is refused (not retryable)
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    df = s.map("Review: {text}", REVIEWS, schema=Review)
    assert list(df.columns) == ["sentiment", "score", "status", "error"]
    assert list(df.index) == [10, 20, 30, 40]
    assert df.loc[10, ["sentiment", "score", "status"]].to_dict() == {"sentiment": "pos", "score": 1, "status": "ok"}
    assert pd.isna(df.loc[10, "error"])
    assert df.loc[30, "status"] == "failed" and "too long" in df.loc[30, "error"]
    assert df.loc[30, ["sentiment", "score"]].isna().all()
    batch = df.attrs["batch"]
    assert isinstance(batch.items[0].value, Review) and batch.failures[0].input == "[[bad]] spam"
    body = openai_server.streams()[0].body
    assert body["response_format"]["json_schema"]["name"] == "Review"


def test_a_typed_map_over_a_list_gives_models(cloud_hub, openai_server):  # noqa: F811
    out = cloud_hub.session("r", model="openai:gpt-4o-mini").map("Review: {text}", ["good", "bad"], schema=Review)
    assert out == [Review(sentiment="pos", score=1)] * 2


def test_a_live_map_is_a_job_in_the_store(cloud_hub, openai_server):  # noqa: F811
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    results = s.map("Q: {q}", ["a", "b", "c"])
    (info,) = cloud_hub.jobs()
    assert (info.mode, info.state, info.outcome, info.total, info.done, info.failed) == ("live", "ended", "completed",
                                                                                          3, 3, 0)
    assert info.usage == results.usage and info.usage.output_tokens > 0
    job = cloud_hub.job(info.id[:8])
    again = job.results()
    assert list(again) == list(results) and again.items[0].prompt == "Q: a"
    assert results.job.id == info.id


def test_the_templates_fixed_text_goes_first_as_its_own_block(cloud_hub, anthropic_server):  # noqa: F811
    s = cloud_hub.session("r", model="anthropic:claude-haiku-4-5", system_prompt="You label reviews. " * 20)
    s.map("Label this review as pos or neg. Review: {text}", ["one", "two", "three"], concurrency=1)
    first, second, third = (r.body for r in anthropic_server.streams())
    blocks = first["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "Label this review as pos or neg. Review: ",
                         "cache_control": {"type": "ephemeral"}}
    assert blocks[1] == {"type": "text", "text": "one"}
    assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
    (info,) = cloud_hub.jobs()
    usage = info.usage
    assert usage.cache_write_tokens > 0 and usage.cache_read_tokens == 2 * usage.cache_write_tokens
    results = cloud_hub.job(info.id).results()
    assert results.items[0].usage.cache_write_tokens == usage.cache_write_tokens
    assert results.items[1].usage.cache_read_tokens == usage.cache_write_tokens
    assert second["messages"][0]["content"][1]["text"] == "two" and third


# -- batch -------------------------------------------------------------------------------------------------
def test_a_batch_map_goes_through_the_openai_batch_api_at_half_price(cloud_hub, openai_server):  # noqa: F811
    _finish_when_submitted(cloud_hub, openai_server, fail=["i1"], expire=["i3"])
    s = cloud_hub.session("r", model="openai:gpt-4o-mini")
    df = s.map("Review: {text}", REVIEWS, schema=Review, mode="batch")
    assert list(df.index) == [10, 20, 30, 40]
    assert list(df["status"]) == ["ok", "failed", "ok", "expired"]
    assert df.loc[10, "sentiment"] == "pos" and "HTTP 500" in df.loc[20, "error"]
    assert openai_server.streams() == []  # nothing went live
    (info,) = cloud_hub.jobs()
    assert (info.mode, info.state, info.outcome, info.done, info.failed) == ("batch", "ended", "expired", 4, 2)
    item = df.attrs["batch"].items[0]
    live_cost = cloud_hub.runtime.catalogue.cost("openai:gpt-4o-mini", item.usage)
    assert item.cost == pytest.approx(live_cost * 0.5) and item.cost > 0
    assert cloud_hub.job(info.id).estimate.mode == "batch"


def test_results_land_exactly_once(cloud_hub, openai_server):  # noqa: F811
    job = cloud_hub.session("r", model="openai:gpt-4o-mini").submit_map("Q: {q}", ["a", "b", "c"], mode="batch")
    assert job.state == "running" and job.provider_job_id == openai_server.batches.latest().id
    openai_server.batches.finish()
    job.refresh()
    first = job.results()
    usage = job.usage
    from ai_sessions import job_runner

    provider = cloud_hub.runtime.catalogue.provider("openai")
    service = provider.batch_service()
    status = cloud_hub.runtime.loop.run(service.status(job.provider_job_id))
    cloud_hub.runtime.loop.run(job_runner.collect(cloud_hub.runtime, job.record, service, status, None))
    assert job.usage == usage and [i.usage for i in job.results().items] == [i.usage for i in first.items]
    assert job.refresh().state == "ended"


def test_a_cancelled_batch_job_keeps_what_finished(cloud_hub, openai_server):  # noqa: F811
    job = cloud_hub.session("r", model="openai:gpt-4o-mini").submit_map("Q: {q}", ["a", "b", "c"], mode="batch")
    openai_server.batches.advance(completed=1)
    job.cancel()
    assert job.state == "cancelling"
    openai_server.batches.finish()
    results = job.wait(progress=False).results()
    assert [i.status for i in results.items] == ["ok", "cancelled", "cancelled"]
    assert job.outcome == "cancelled"


def test_failed_and_expired_items_rerun_as_a_new_job(cloud_hub, anthropic_server):  # noqa: F811
    s = cloud_hub.session("r", model="anthropic:claude-haiku-4-5")
    job = s.submit_map("Review: {text}", REVIEWS, schema=Review, mode="batch")
    anthropic_server.batches.finish(fail=["i0"], expire=["i2"])
    df = job.wait(progress=False).results()
    assert list(df["status"]) == ["failed", "ok", "expired", "ok"]
    again = job.rerun()
    assert again.id != job.id and again.record.parent_id == job.id and again.mode == "batch"
    anthropic_server.batches.finish()
    fixed = again.wait(progress=False).results()
    assert list(fixed.index) == [10, 30] and list(fixed["status"]) == ["ok", "ok"]
    live = job.rerun(mode="live").wait(progress=False)
    assert live.mode == "live" and list(live.results()["status"]) == ["ok", "ok"]


def test_retry_of_a_batch_result_runs_a_new_job_and_fills_the_result(cloud_hub, gemini_server):  # noqa: F811
    stop = _finish_when_submitted(cloud_hub, gemini_server, fail=["1"])
    results = cloud_hub.session("r", model="gemini:gemini-2.5-flash").map("Q: {q}", ["a", "b"], mode="batch")
    assert results[1] is None and results.failures[0].error_kind == "provider_error"
    stop()
    _finish_when_submitted(cloud_hub, gemini_server)
    assert results.retry(progress=False) == [results[0], "gemini-2.5-flash heard 1 turn(s); last: Q: b"]
    assert len(cloud_hub.jobs()) == 2


def test_an_expired_gemini_job_has_every_item_expired(cloud_hub, gemini_server):  # noqa: F811
    job = cloud_hub.session("r", model="gemini:gemini-2.5-flash").submit_map("Q: {q}", ["a", "b"], mode="batch")
    gemini_server.batches.advance(completed=1)
    gemini_server.batches.expire()
    results = job.wait(progress=False).results()
    assert [i.status for i in results.items] == ["expired", "expired"] and job.outcome == "expired"


def test_a_model_without_a_batch_api_is_refused_before_anything(make_hub, openai_server):  # noqa: F811
    hub = make_hub(settings=provider_settings(plain={"kind": "openai-compatible",
                                                     "base_url": f"{openai_server.url}/v1"}))
    with pytest.raises(AiSessionsError, match="has no Batch API") as info:
        hub.session("r", model="plain:gpt-4o-mini").map("Q: {q}", ["a"], mode="batch")
    assert "mode='live'" in info.value.hint and hub.jobs() == []
    with pytest.raises(AiSessionsError, match="mode must be"):
        hub.session("r").map("Q: {q}", ["a"], mode="fast")


# -- estimates ------------------------------------------------------------------------------------------
def test_a_dry_run_counts_tokens_with_the_providers_endpoint(cloud_hub, anthropic_server):  # noqa: F811
    s = cloud_hub.session("r", model="anthropic:claude-haiku-4-5", system_prompt="Be brief.")
    estimate = s.map("Review: {text}", [f"text number {i}" for i in range(40)], schema=Review, mode="batch",
                     dry_run=True)
    assert isinstance(estimate, Estimate) and (estimate.items, estimate.mode, estimate.counted) == (40, "batch", 16)
    counts = [r for r in anthropic_server.requests if r.path == "/v1/messages/count_tokens"]
    assert len(counts) == 16 and estimate.input_tokens > 0 and estimate.price_factor == 0.5
    assert estimate.output_tokens == 40 * 40  # 20 per field, 2 fields
    assert estimate.cost > 0 and "counted by the provider" in estimate.method
    assert cloud_hub.jobs() == [] and anthropic_server.batches.jobs == {}  # nothing sent or stored


def test_a_dry_run_without_a_count_endpoint_uses_the_documented_rule(cloud_hub, openai_server):  # noqa: F811
    estimate = cloud_hub.session("r", model="openai:gpt-4o-mini", max_tokens=10).map("Q: {q}", ["abcd" * 10],
                                                                                    dry_run=True)
    assert estimate.method.startswith("estimated at 1 token per 4 characters")
    assert (estimate.output_tokens, estimate.counted, estimate.mode) == (10, 0, "live")
    assert str(estimate).startswith("1 items on openai:gpt-4o-mini (live)")


@pytest.mark.parametrize("answer", ["n", "y"])
def test_a_job_above_the_threshold_asks_first(make_hub, openai_server, fast_retries, monkeypatch, answer):  # noqa: F811
    settings = provider_settings()
    hub = make_hub(settings=type(settings)(providers=settings.providers, batch=BatchSettings(confirm_above_usd=0)))
    asked: list[str] = []
    monkeypatch.setattr(jobs_module, "in_kernel", lambda: True)
    monkeypatch.setattr(builtins, "input", lambda prompt: asked.append(prompt) or answer)
    s = hub.session("r", model="openai:gpt-4o-mini")
    if answer == "n":
        with pytest.raises(AiSessionsError, match="not sent"):
            s.submit_map("Q: {q}", ["a", "b"], mode="batch")
        assert openai_server.batches.jobs == {} and hub.jobs() == []
    else:
        job = s.submit_map("Q: {q}", ["a", "b"], mode="batch")
        assert job.state == "running"
    assert len(asked) == 1 and "above [batch] confirm_above_usd = 0" in asked[0]
