"""The providers' Batch API adapters (``providers/*_batch.py``) through the real SDKs against the fake servers:
submit, status, results (every outcome), cancel and token counting, in each API's own shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ai_sessions.hub import SessionHub
from ai_sessions.providers.base import ChatRequest, ChatTurn, ResponseFormat
from ai_sessions.providers.batch_api import BatchRequest
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    anthropic_server,
    cloud_hub,
    fast_retries,
    gemini_server,
    openai_server,
)

SCHEMA = {"type": "object", "properties": {"label": {"enum": ["spam", "ham"]}}, "required": ["label"],
          "additionalProperties": False}


def _requests(model: str, *prompts: str, schema: bool = False) -> list[BatchRequest]:
    fmt = ResponseFormat("label", SCHEMA) if schema else None
    return [BatchRequest(f"i{n}", ChatRequest(model, (ChatTurn("user", p),), system="Be brief.", max_tokens=50,
                                              response_format=fmt))
            for n, p in enumerate(prompts)]


def _run(hub: SessionHub, provider: str, fn: Callable[[Any], Any]) -> Any:
    service = hub.runtime.catalogue.provider(provider).batch_service()

    async def run() -> Any:
        await service.provider.prepare()
        return await fn(service)

    return hub.runtime.loop.run(run())


def _collect(hub: SessionHub, provider: str, job_id: str) -> dict[str, Any]:
    async def results(service: Any) -> dict[str, Any]:
        return {o.custom_id: o async for o in service.results(job_id)}

    return _run(hub, provider, results)


def test_openai_jobs_go_as_a_jsonl_file_and_come_back_per_line(cloud_hub, openai_server):  # noqa: F811
    job_id = _run(cloud_hub, "openai", lambda s: s.submit(_requests("gpt-4o-mini", "one", "two", "three", schema=True),
                                                          label="job-1"))
    job = openai_server.batches.get(job_id)
    assert job.info["metadata"] == {"ai_sessions_job": "job-1"}
    body = job.items[0].request
    assert "stream" not in body and "stream_options" not in body and body["max_completion_tokens"] == 50
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    status = _run(cloud_hub, "openai", lambda s: s.status(job_id))
    assert (status.state, status.provider_state, status.total, status.completed) == ("running", "validating", 3, 0)
    openai_server.batches.advance(completed=1)
    openai_server.batches.finish(fail=["i1"], expire=["i2"])
    status = _run(cloud_hub, "openai", lambda s: s.status(job_id))
    assert (status.state, status.outcome, status.completed, status.failed) == ("ended", "expired", 1, 1)
    outcomes = _collect(cloud_hub, "openai", job_id)
    assert outcomes["i0"].status == "ok" and outcomes["i0"].text == '{"label": "spam"}'
    assert outcomes["i0"].usage.output_tokens > 0 and outcomes["i0"].finish_reason == "stop"
    assert (outcomes["i1"].status, outcomes["i1"].error_kind) == ("failed", "provider_error")
    assert "HTTP 500" in outcomes["i1"].error
    assert (outcomes["i2"].status, outcomes["i2"].error_kind) == ("expired", "expired")


def test_openai_cancel_and_a_failed_job(cloud_hub, openai_server):  # noqa: F811
    job_id = _run(cloud_hub, "openai", lambda s: s.submit(_requests("gpt-4o-mini", "one", "two"), label="x"))
    openai_server.batches.advance(completed=1)
    _run(cloud_hub, "openai", lambda s: s.cancel(job_id))
    assert _run(cloud_hub, "openai", lambda s: s.status(job_id)).state == "cancelling"
    openai_server.batches.finish()
    status = _run(cloud_hub, "openai", lambda s: s.status(job_id))
    assert (status.state, status.outcome) == ("ended", "cancelled")
    assert {k: o.status for k, o in _collect(cloud_hub, "openai", job_id).items()} == {"i0": "ok", "i1": "cancelled"}
    failing = _run(cloud_hub, "openai", lambda s: s.submit(_requests("gpt-4o-mini", "one"), label="y"))
    openai_server.batches.fail_job(failing, "The batch could not be read.")
    status = _run(cloud_hub, "openai", lambda s: s.status(failing))
    assert (status.outcome, status.error) == ("failed", "The batch could not be read.")
    assert _run(cloud_hub, "openai", lambda s: s.count_tokens(_requests("gpt-4o-mini", "x")[0].request)) is None


def test_anthropic_message_batches_report_every_outcome(cloud_hub, anthropic_server):  # noqa: F811
    requests = _requests("claude-haiku-4-5", "one", "two", "three", "four", schema=True)
    job_id = _run(cloud_hub, "anthropic", lambda s: s.submit(requests, label="x"))
    params = anthropic_server.batches.get(job_id).items[0].request
    assert "stream" not in params and params["output_config"]["format"]["type"] == "json_schema"
    status = _run(cloud_hub, "anthropic", lambda s: s.status(job_id))
    assert (status.state, status.total, status.completed, status.expires_at is not None) == ("running", 4, None, True)
    anthropic_server.batches.finish(fail=["i1"], expire=["i2"])
    status = _run(cloud_hub, "anthropic", lambda s: s.status(job_id))
    assert (status.state, status.outcome, status.completed, status.failed) == ("ended", "expired", 2, 2)
    outcomes = _collect(cloud_hub, "anthropic", job_id)
    assert outcomes["i0"].text == '{"label": "spam"}' and outcomes["i0"].usage.input_tokens > 0
    assert (outcomes["i1"].status, outcomes["i1"].error_kind) == ("failed", "provider_error")
    assert outcomes["i2"].status == "expired" and outcomes["i3"].status == "ok"


def test_anthropic_cancel_and_token_counts(cloud_hub, anthropic_server):  # noqa: F811
    job_id = _run(cloud_hub, "anthropic", lambda s: s.submit(_requests("claude-haiku-4-5", "one", "two"), label="x"))
    anthropic_server.batches.advance(completed=1)
    _run(cloud_hub, "anthropic", lambda s: s.cancel(job_id))
    assert _run(cloud_hub, "anthropic", lambda s: s.status(job_id)).state == "cancelling"
    anthropic_server.batches.finish()
    assert _run(cloud_hub, "anthropic", lambda s: s.status(job_id)).outcome == "cancelled"
    assert {k: o.status for k, o in _collect(cloud_hub, "anthropic", job_id).items()} == {"i0": "ok",
                                                                                           "i1": "cancelled"}
    request = _requests("claude-haiku-4-5", "How many tokens is this?")[0].request
    counted = _run(cloud_hub, "anthropic", lambda s: s.count_tokens(request))
    assert counted > 0 and anthropic_server.requests[-1].path == "/v1/messages/count_tokens"


def test_gemini_batch_mode_inlines_requests_and_reads_inlined_responses(cloud_hub, gemini_server):  # noqa: F811
    job_id = _run(cloud_hub, "gemini", lambda s: s.submit(_requests("gemini-2.5-flash", "one", "two", schema=True),
                                                          label="job-g"))
    job = gemini_server.batches.get(job_id)
    assert job.info["displayName"] == "job-g" and job.items[0].meta == {"key": "i0"}
    config = job.items[0].request["generationConfig"]
    assert config["responseMimeType"] == "application/json" and config["maxOutputTokens"] == 50
    assert _run(cloud_hub, "gemini", lambda s: s.status(job_id)).provider_state == "JOB_STATE_PENDING"
    gemini_server.batches.finish(fail=["1"])
    status = _run(cloud_hub, "gemini", lambda s: s.status(job_id))
    assert (status.state, status.outcome) == ("ended", "completed")
    outcomes = _collect(cloud_hub, "gemini", job_id)
    assert outcomes["i0"].text == '{"label": "spam"}' and outcomes["i0"].usage.input_tokens > 0
    assert (outcomes["i1"].status, outcomes["i1"].error_kind) == ("failed", "provider_error")
    request = _requests("gemini-2.5-flash", "Count me")[0].request
    assert _run(cloud_hub, "gemini", lambda s: s.count_tokens(request)) > 0
    assert gemini_server.requests[-1].path.endswith(":countTokens")


@pytest.mark.parametrize("how", ["expire", "cancel"])
def test_a_gemini_job_that_does_not_succeed_has_no_results(cloud_hub, gemini_server, how):  # noqa: F811
    job_id = _run(cloud_hub, "gemini", lambda s: s.submit(_requests("gemini-2.5-flash", "one"), label="x"))
    if how == "expire":
        gemini_server.batches.expire()
    else:
        _run(cloud_hub, "gemini", lambda s: s.cancel(job_id))
    status = _run(cloud_hub, "gemini", lambda s: s.status(job_id))
    assert (status.state, status.outcome) == ("ended", "expired" if how == "expire" else "cancelled")
    assert _collect(cloud_hub, "gemini", job_id) == {}
