"""The options each built-in provider kind reads from its ``[providers.NAME]`` settings table.

Settings check tables against these when they load, so a typo (``base_ur``) or a wrong type
(``timeout = "60"``) is reported with its file and line instead of surfacing later as a puzzling
provider error. Plugin kinds are not checked: their options are theirs.
"""

from __future__ import annotations

from typing import Any

Expected = type | tuple[type, ...]
NUMBER = (int, float)
_CLOUD: dict[str, Expected] = {"base_url": str, "timeout": NUMBER, "connect_timeout": NUMBER, "models": list}
_OPENAI: dict[str, Expected] = {**_CLOUD, "stream_usage": bool, "max_tokens_param": str}

OPTIONS: dict[str, dict[str, Expected]] = {
    "openai": _OPENAI,
    "openai-compatible": {**_OPENAI, "api_key_env": str},
    "azure": {**_OPENAI, "endpoint": str, "api_version": str, "deployment": str, "deployments": list},
    "anthropic": _CLOUD,
    "gemini": {**_CLOUD, "api_version": str},
    "local": {"models": dict, "n_ctx": int},
}


def check_option(kind: str, key: str, value: Any) -> str | None:
    """Why ``key = value`` is wrong for ``kind`` ("unknown" for an unknown key), or None if it is fine
    or ``kind`` is not a built-in kind."""
    options = OPTIONS.get(kind)
    if options is None:
        return None
    expected = options.get(key)
    if expected is None:
        return "unknown"
    is_bool = isinstance(value, bool)
    if not isinstance(value, expected) or (is_bool and expected is not bool):
        return f"expected {describe(expected)}, got {type(value).__name__}"
    if expected is list and not all(isinstance(item, str) for item in value):
        return "expected a list of strings (model names)"
    if expected is dict and not all(isinstance(item, str) for item in value.values()):
        return "expected a table of name = \"path/to/model.gguf\""
    return None


def describe(expected: Expected) -> str:
    """How an expected type reads in an error message."""
    if expected == NUMBER:
        return "a number"
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list",
            dict: "a table"}.get(expected, getattr(expected, "__name__", str(expected)))  # type: ignore[arg-type]
