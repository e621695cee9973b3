"""A deterministic instance of a JSON Schema: what the fake servers answer to a structured-output request.

``instance(schema)`` fills every property (so strict schemas, where all are required, hold), picks the
first ``enum`` value, the ``const``, the first non-null branch of ``anyOf`` / ``oneOf`` / a type list, a
fixed word for strings (a date, URI, e-mail or UUID for those formats), ``1`` for integers and numbers
(moved into ``minimum`` / ``maximum``), ``True`` for booleans and ``minItems`` (at least one) items for
arrays. ``$ref`` into ``$defs`` / ``definitions`` (as pydantic writes them) is followed.

>>> instance({"type": "object", "properties": {"n": {"type": "integer"}, "tag": {"enum": ["a", "b"]}}})
{'n': 1, 'tag': 'a'}
"""

from __future__ import annotations

from typing import Any

WORD = "sample"
FORMATS = {"date": "2025-01-02", "date-time": "2025-01-02T03:04:05Z", "time": "03:04:05", "email": "a@example.com",
           "uri": "https://example.com/", "uuid": "00000000-0000-4000-8000-000000000000"}


def instance(schema: Any, root: Any = None) -> Any:
    """A value that validates against ``schema`` (see the module docstring for the choices)."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return instance(_resolve(schema["$ref"], root), root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [s for s in schema[key] if not (isinstance(s, dict) and s.get("type") == "null")]
            return instance((options or schema[key])[0], root)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = _resolve(part["$ref"], root) if "$ref" in part else part
            merged = {**merged, **part, "properties": {**merged.get("properties", {}), **part.get("properties", {})}}
        return instance(merged, root)
    kind = schema.get("type")  # Gemini's OpenAPI-style schemas spell types in capitals
    if isinstance(kind, list):
        kind = next((k for k in kind if k.lower() != "null"), "null")
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    return _BY_TYPE[kind](schema, root)


def _resolve(ref: str, root: Any) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, not {ref!r}")
    node = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _object(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    return {name: instance(sub, root) for name, sub in (schema.get("properties") or {}).items()}


def _array(schema: dict[str, Any], root: Any) -> list[Any]:
    if schema.get("prefixItems"):
        return [instance(s, root) for s in schema["prefixItems"]]
    return [instance(schema.get("items", {}), root) for _ in range(max(1, schema.get("minItems", 1)))]


def _string(schema: dict[str, Any], root: Any) -> str:
    text = FORMATS.get(schema.get("format", ""), WORD)
    return text.ljust(schema.get("minLength", 0), "x")


def _number(schema: dict[str, Any], root: Any) -> int | float:
    value: int | float = 1
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if "exclusiveMinimum" in schema:
        value = max(value, schema["exclusiveMinimum"] + 1)
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    return int(value) if schema.get("type") == "integer" else value


_BY_TYPE = {"object": _object, "array": _array, "string": _string, "integer": _number, "number": _number,
            "boolean": lambda schema, root: True, "null": lambda schema, root: None}
