"""Mapping provider SDK and transport errors to the small set of :mod:`ai_sessions.errors` kinds (P5).

Every mapped error says what to do next, carries ``status_code`` and ``retry_after`` (from
``Retry-After`` / ``retry-after-ms`` headers or Gemini's ``RetryInfo``) and never contains a key.
No SDK is imported here: SDK errors are recognised by the provider modules, which pass what they
found (status, headers, body) to :func:`from_status`; raw transport errors that escape the SDKs
mid-stream (httpx, httpx2, aiohttp, timeouts) are recognised by :func:`from_transport`.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import (
    AuthError,
    BadRequest,
    ConnectionFailed,
    ProviderError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
)

_CONTEXT_WORDS = ("context length", "context_length", "too long", "too many tokens", "maximum context",
                  "token count", "exceeds the maximum", "context window")
_SECRET_PATTERNS = (
    re.compile(r"(?i)((?:authorization|x-api-key|x-goog-api-key|api-key)['\"]?\s*[:=]\s*['\"]?(?:bearer\s+)?)"
               r"[^\s'\",}\]]+"),
    re.compile(r"sk-[A-Za-z0-9_\-*.]{6,}"), re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),
)
#: Anthropic error ``type`` -> the HTTP status it stands for (errors sent inside a 200 stream).
ANTHROPIC_TYPES = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                   "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429,
                   "api_error": 500, "overloaded_error": 529}
#: OpenAI / Gemini error codes or statuses -> HTTP status, for errors without one.
CODE_STATUS = {"invalid_api_key": 401, "rate_limit_exceeded": 429, "insufficient_quota": 429,
               "server_error": 500, "context_length_exceeded": 400, "model_not_found": 404,
               "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 429,
               "INVALID_ARGUMENT": 400, "INTERNAL": 500, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504}


@dataclass(frozen=True)
class ErrorContext:
    """What a message needs to name: the provider, its key variable, the model and where it was sent."""

    provider: str
    model: str = ""
    key_env: str | None = None
    base_url: str | None = None
    secret: str | None = None

    @property
    def key_label(self) -> str:
        return self.key_env or f"the API key for {self.provider}"

    @property
    def keys_hint(self) -> str:
        return f"set it with `%ai_session keys set {self.provider}`"

    def scrub(self, text: str) -> str:
        """``text`` with the key (and anything shaped like a key) removed."""
        if self.secret:
            text = text.replace(self.secret, "***")
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
        return text


def retry_after(headers: Mapping[str, str] | Any | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(float(millis) / 1000.0, 0.0)
        value = headers.get("retry-after")
    except (AttributeError, TypeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def gemini_retry_delay(details: Any) -> float | None:
    """The ``retryDelay`` (``"13s"``) of a ``google.rpc.RetryInfo`` in a Gemini error body."""
    error = details.get("error", details) if isinstance(details, Mapping) else None
    for item in (error or {}).get("details", []) if isinstance(error, Mapping) else []:
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = re.fullmatch(r"\s*([\d.]+)s\s*", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def error_fields(body: Any) -> tuple[str, str, str]:
    """``(message, type or status, code or reason)`` from an OpenAI, Anthropic or Gemini error body."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body[:300], "", ""
    if not isinstance(body, Mapping):
        return "", "", ""
    error = body.get("error", body)
    if not isinstance(error, Mapping):
        return str(error)[:300], "", ""
    message = str(error.get("message") or "")
    kind = str(error.get("type") or error.get("status") or "")
    code = str(error.get("code") or "")
    for item in error.get("details", []) or []:
        if isinstance(item, Mapping) and item.get("reason"):
            code = str(item["reason"])
    return message, kind, code


def from_status(status: int | None, body: Any, ctx: ErrorContext, *, headers: Any = None,
                delay: float | None = None) -> ProviderError:
    """The :class:`ProviderError` for an HTTP error ``status`` (or, without one, the body's type/code)."""
    message, kind, code = error_fields(body)
    message = ctx.scrub(message)
    if not status or status < 400:
        status = ANTHROPIC_TYPES.get(kind) or CODE_STATUS.get(code) or CODE_STATUS.get(kind) or status
    wait = retry_after(headers)
    if wait is None:
        wait = delay
    common: dict[str, Any] = {"provider": ctx.provider, "status_code": status, "retry_after": wait}
    detail = f": {message}" if message else ""
    where = f"{ctx.provider}:{ctx.model}" if ctx.model else ctx.provider
    if code == "API_KEY_INVALID" or status == 401:
        return AuthError(f"{ctx.key_label} is missing or invalid ({ctx.provider} said HTTP {status or 401})",
                         hint=ctx.keys_hint, **common)
    if status == 403:
        return AuthError(f"{ctx.provider} refused this key for {where} (HTTP 403){detail}",
                         hint=f"check the key's permissions, or {ctx.keys_hint}", **common)
    if status == 404:
        return BadRequest(f"{ctx.provider} does not know the model {ctx.model!r} (HTTP 404){detail}",
                          hint="check the model name; list models with `%ai_session models`", **common)
    if status == 429:
        if code == "insufficient_quota":
            error = RateLimited(f"{ctx.provider} says the account's quota is used up{detail}",
                                hint="check the plan and billing with the provider, or switch model", **common)
            error.retryable = False
            return error
        return RateLimited(f"{ctx.provider} rate limit reached for {where}{detail}",
                           hint="wait a moment and regenerate, or switch to another model", **common)
    if status == 408:
        return ProviderTimeout(f"{ctx.provider} timed out handling the request (HTTP 408)",
                               hint="regenerate to try again", **common)
    if status == 200:  # an error event inside a stream that named no known kind
        status = common["status_code"] = None
    if status in (400, 413, 422):
        if status == 413 or code == "context_length_exceeded" or any(w in message.lower() for w in _CONTEXT_WORDS):
            return BadRequest(f"the conversation is too long for {where}{detail}",
                              hint="shorten the prompt, clear the session (or fork(at=N) to keep only its start), "
                                   "or switch to a model with a larger context", **common)
        return BadRequest(f"{ctx.provider} rejected the request for {where} (HTTP {status}){detail}",
                          hint="check the model name and parameters (temperature, max_tokens)", **common)
    if status == 409 or (status is not None and status >= 500) or kind == "server_error":
        return ProviderServerError(f"{ctx.provider} had a server error{f' (HTTP {status})' if status else ''}{detail}",
                                   hint="this is usually temporary: regenerate in a moment", **common)
    return ProviderError(f"{ctx.provider} failed{f' (HTTP {status})' if status else ''}{detail}",
                         hint="regenerate to try again; see the log for details", **common)


_TIMEOUT_NAMES = ("TimeoutException", "TimeoutError", "ServerTimeoutError", "ReadTimeout", "ConnectTimeout",
                  "PoolTimeout", "WriteTimeout", "SocketTimeoutError", "ConnectionTimeoutError")
_TRANSPORT_MODULES = ("httpx", "httpx2", "httpcore", "aiohttp", "h11", "anyio")


def from_transport(error: BaseException, ctx: ErrorContext) -> ProviderError | None:
    """A mapped error for a raw transport or decoding error (None when ``error`` is neither)."""
    module = type(error).__module__.split(".")[0]
    names = {cls.__name__ for cls in type(error).__mro__}
    where = ctx.base_url or ctx.provider
    if isinstance(error, TimeoutError) or names & set(_TIMEOUT_NAMES):
        return ProviderTimeout(f"{ctx.provider} did not answer in time ({where})",
                               hint="regenerate to try again; raise `timeout` under "
                                    f"[providers.{ctx.provider}] for slow models", provider=ctx.provider)
    if module in _TRANSPORT_MODULES or isinstance(error, OSError):
        return ConnectionFailed(f"connection to {ctx.provider} failed ({where}): {type(error).__name__}",
                                hint="check the network and the provider's base_url, then regenerate",
                                provider=ctx.provider)
    if isinstance(error, ValueError) and ("json" in type(error).__name__.lower() or
                                          "Expecting" in str(error) or "JSON" in str(error)):
        return ProviderError(f"{ctx.provider} sent a reply that could not be read (malformed data)",
                             hint="regenerate to try again; if it persists, check the server at "
                                  f"{where}", provider=ctx.provider)
    return None


def timed_out(ctx: ErrorContext) -> ProviderError:
    """The error for a request that got no bytes within the configured timeout."""
    error = from_transport(TimeoutError(), ctx)
    assert error is not None
    return error


def from_connection_error(error: BaseException, ctx: ErrorContext) -> ProviderError:
    """The error for an SDK's "connection error" wrapper: classified by what it wraps."""
    cause = error.__cause__ or error.__context__
    mapped = from_transport(cause, ctx) if cause is not None else None
    if mapped is None or mapped.kind not in ("timeout", "connection"):
        where = ctx.base_url or ctx.provider
        mapped = ConnectionFailed(f"connection to {ctx.provider} failed ({where})",
                                  hint="check the network and the provider's base_url, then regenerate",
                                  provider=ctx.provider)
    return mapped
