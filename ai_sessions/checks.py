"""Checks of user input that every layer applies before anything is sent or stored: reply parameters,
and text that SQLite and the providers can take."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import AiSessionsError

#: Per-reply parameters every provider takes (anything provider-specific goes in ``extra={...}``).
PARAMS = ("temperature", "max_tokens")
#: ``schema``: structured output (a pydantic model, TypedDict, dataclass or JSON Schema dict; see schemas.py)
REPLY_OPTIONS = (*PARAMS, "system_prompt", "extra", "schema")
MAX_TOKENS_LIMIT = 1_000_000
#: Deepest nesting of lists and objects in a tool call's arguments or a structured result.
MAX_JSON_DEPTH = 32
#: Bounds of a batch run's own options (``Session.map``).
MAX_CONCURRENCY = 256
MAX_ATTEMPTS = 10


def check_params(params: dict[str, Any]) -> None:
    """Refuse a ``temperature`` outside 0..2 (or NaN) or a ``max_tokens`` that is not a positive integer up
    to 1,000,000 (None is fine: the default applies)."""
    temperature, max_tokens = params.get("temperature"), params.get("max_tokens")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)
                                    or math.isnan(temperature) or not 0 <= temperature <= 2):
        raise AiSessionsError(f"temperature {temperature!r} is not a number between 0 and 2",
                              hint="e.g. temperature=0.2 (lower is more focused)")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or not 1 <= max_tokens <= MAX_TOKENS_LIMIT):
        raise AiSessionsError(f"max_tokens {max_tokens!r} is not a whole number between 1 and {MAX_TOKENS_LIMIT:,}",
                              hint="e.g. max_tokens=1024")
    system = params.get("system_prompt")
    if system is not None:
        check_text(system, "system_prompt")
    extra = params.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise AiSessionsError(f"extra must be a dict of provider request fields, not {type(extra).__name__}",
                              hint='e.g. extra={"top_p": 0.9}')


def check_reply_options(params: dict[str, Any], *, allowed: Sequence[str] = REPLY_OPTIONS) -> None:
    """Refuse an unknown keyword argument by name, then check the values (before anything is sent)."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise AiSessionsError(f"unknown parameter(s): {', '.join(unknown)}",
                              hint=f"accepted: {', '.join(allowed)}; provider-specific fields go in extra={{...}}")
    check_params(params)


def check_batch_options(concurrency: Any, attempts: Any, include_history: Any) -> None:
    """Refuse a ``concurrency`` that is not a whole number in 1..256, ``attempts`` that is neither None nor
    a whole number in 1..10, or an ``include_history`` that is not True or False."""
    if not _whole(concurrency, 1, MAX_CONCURRENCY):
        raise AiSessionsError(f"concurrency {concurrency!r} is not a whole number between 1 and {MAX_CONCURRENCY}",
                              hint="e.g. concurrency=4 (requests in flight at once)")
    if attempts is not None and not _whole(attempts, 1, MAX_ATTEMPTS):
        raise AiSessionsError(f"attempts {attempts!r} is not a whole number between 1 and {MAX_ATTEMPTS}",
                              hint="e.g. attempts=3 (tries per item), or leave it out for the default")
    if not isinstance(include_history, bool):
        raise AiSessionsError(f"include_history must be True or False, not {include_history!r}")


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_text(text: Any, what: str) -> None:
    """Refuse text that cannot be stored (a lone surrogate, e.g. from a broken decode)."""
    if not isinstance(text, str):
        raise AiSessionsError(f"{what} must be text, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AiSessionsError(f"{what} holds a lone surrogate ({text[exc.start]!r} at position {exc.start}), "
                              "which is not valid text", hint="remove it, e.g. text.encode('utf-8', 'replace')"
                              ".decode()") from None


def check_part(part: Any, where: str = "") -> None:
    """Refuse a message part (:mod:`ai_sessions.parts`) holding text that cannot be stored, or JSON data
    (a tool call's arguments, a structured result) with a non-finite number or more than 32 levels."""
    kind = getattr(part, "kind", type(part).__name__)
    label = f"{where + ': ' if where else ''}a {kind} part's"
    for name in ("text", "id", "name", "call_id", "media_type", "schema"):
        value = getattr(part, name, None)
        if isinstance(value, str):
            check_text(value, f"{label} '{name}'")
    if kind == "tool_call":
        check_json(part.arguments, f"{label} 'arguments'")
    elif kind == "structured":
        check_json(part.data, f"{label} 'data'")
    elif kind == "tool_result":
        for inner in part.parts:
            check_part(inner, where)


def check_json(value: Any, what: str, depth: int = 0) -> None:
    """JSON data as JSON means it: finite numbers, valid text, at most ``MAX_JSON_DEPTH`` levels deep."""
    if depth > MAX_JSON_DEPTH:
        raise AiSessionsError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, what)
    elif isinstance(value, float) and not math.isfinite(value):
        raise AiSessionsError(f"{what} holds the number {value!r}, which JSON cannot carry")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(key, what)
            check_json(item, what, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json(item, what, depth + 1)
