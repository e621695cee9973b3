"""Checking a ``[providers.NAME]`` settings table against the options its provider kind declares
(``Provider.options``: option name -> expected type or types).

Settings check tables when they load, so a typo (``base_ur``) or a wrong type (``timeout = "60"``) is
reported with its file and line instead of surfacing later as a puzzling provider error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Expected = type | tuple[type, ...]
NUMBER = (int, float)
#: Options every SDK-backed (cloud) kind reads.
CLOUD_OPTIONS: dict[str, Expected] = {"base_url": str, "timeout": NUMBER, "connect_timeout": NUMBER, "models": list}


def check_option(options: Mapping[str, Expected], key: str, value: Any) -> str | None:
    """Why ``key = value`` is wrong for a kind declaring ``options`` ("unknown" for an unknown key), or
    None if it is fine."""
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
