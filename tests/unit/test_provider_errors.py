"""Mapping of provider HTTP errors and raw transport errors to the small set of error kinds (P5)."""

from __future__ import annotations

import email.utils
import json
import time

import aiohttp
import httpx
import httpx2
import pytest

from ai_sessions.providers.sdk_errors import (
    ErrorContext,
    from_status,
    from_transport,
    gemini_retry_delay,
    retry_after,
    timed_out,
)

CTX = ErrorContext("openai", "gpt-4o-mini", "OPENAI_API_KEY", "http://127.0.0.1:1/v1", "sk-secret-abcdef123456")


@pytest.mark.parametrize("headers, expected", [
    ({"retry-after": "7"}, 7.0), ({"retry-after": "0.5"}, 0.5), ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25), ({"retry-after": "soon"}, None), ({}, None),
    (None, None), ({"retry-after": "-3"}, 0.0),
])
def test_retry_after_headers(headers, expected):
    assert retry_after(headers) == expected


def test_retry_after_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after(httpx2.Headers({"Retry-After": when})) <= 30


def test_gemini_retry_info_delay():
    body = {"error": {"code": 429, "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                                "retryDelay": "13s"}]}}
    assert gemini_retry_delay(body) == 13.0 and gemini_retry_delay({"error": {}}) is None


@pytest.mark.parametrize("status, body, kind, retryable", [
    (401, {"error": {"message": "Incorrect API key provided: sk-secret-abcdef123456"}}, "auth", False),
    (403, {"error": {"message": "no access"}}, "auth", False),
    (404, {"error": {"message": "model not found", "code": "model_not_found"}}, "bad_request", False),
    (400, {"error": {"message": "bad temperature"}}, "bad_request", False),
    (400, {"error": {"code": "context_length_exceeded", "message": "too many"}}, "bad_request", False),
    (413, {"type": "error", "error": {"type": "request_too_large"}}, "bad_request", False),
    (408, None, "timeout", True),
    (429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}, "rate_limited", True),
    (429, {"error": {"message": "no money", "code": "insufficient_quota"}}, "rate_limited", False),
    (500, None, "provider_error", True), (503, None, "provider_error", True), (529, None, "provider_error", True),
    (400, {"error": {"status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}}, "auth", False),
    (None, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "provider_error",
     True),
    (None, {"type": "error", "error": {"type": "rate_limit_error"}}, "rate_limited", True),
    (None, {"message": "boom", "type": "server_error"}, "provider_error", True),
])
def test_status_mapping(status, body, kind, retryable):
    error = from_status(status, body, CTX, headers={"retry-after": "2"})
    assert (error.kind, error.retryable) == (kind, retryable)
    assert error.provider == "openai" and error.retry_after == 2.0
    assert "sk-secret" not in str(error) and error.hint


def test_auth_message_names_the_variable_and_the_command():
    error = from_status(401, None, CTX)
    assert str(error) == ("OPENAI_API_KEY is missing or invalid (openai said HTTP 401) — "
                          "set it with `%ai_session keys set openai`")


def test_context_too_long_says_what_to_do():
    error = from_status(400, {"error": {"message": "prompt is too long: 250000 tokens > 200000 maximum"}}, CTX)
    assert "too long" in error.message and "fork" in error.hint


@pytest.mark.parametrize("raw, kind", [
    (httpx2.ReadTimeout("read"), "timeout"), (httpx.ConnectTimeout("c"), "timeout"),
    (TimeoutError(), "timeout"), (aiohttp.ServerTimeoutError("t"), "timeout"),
    (httpx2.RemoteProtocolError("peer closed connection"), "connection"),
    (httpx.ReadError("reset"), "connection"), (aiohttp.ClientPayloadError("cut"), "connection"),
    (aiohttp.ServerDisconnectedError(), "connection"), (ConnectionResetError(), "connection"),
    (json.JSONDecodeError("Expecting value", "{", 1), "provider_error"),
    (ValueError("Failed to parse response as JSON. Raw response: {"), "provider_error"),
])
def test_raw_transport_errors(raw, kind):
    error = from_transport(raw, CTX)
    assert error is not None and error.kind == kind


def test_other_exceptions_are_not_transport_errors():
    assert from_transport(KeyError("x"), CTX) is None
    assert from_transport(ValueError("bad value"), CTX) is None


def test_unclassified_stream_error_has_no_http_status():
    error = from_status(200, {"type": "error", "error": {"type": "mystery", "message": "odd"}}, CTX)
    assert error.kind == "provider_error" and error.status_code is None and "HTTP" not in str(error)


def test_timeout_names_the_setting_to_raise():
    error = timed_out(CTX)
    assert error.kind == "timeout" and "timeout" in error.hint and "[providers.openai]" in error.hint
