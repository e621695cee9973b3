"""Structured output: what a ``schema=`` argument becomes — a name, the JSON Schema sent to the provider, and
a validator for the reply (B1).

>>> class Review(BaseModel):                                  # doctest: +SKIP
...     sentiment: Literal["pos", "neg"]
...     score: int
>>> out = output_schema(Review)                               # doctest: +SKIP
>>> out.name, out.strict                                      # doctest: +SKIP
('Review', True)
>>> out.parse('{"sentiment": "pos", "score": 4}')             # doctest: +SKIP
(Review(sentiment='pos', score=4), {'sentiment': 'pos', 'score': 4})

A pydantic model, a ``TypedDict``, a dataclass (anything pydantic's ``TypeAdapter`` takes, as long as it
describes a JSON object) is validated by pydantic; a JSON Schema dict by ``fastjsonschema`` (``jsonschema``
imports in seconds where its format extras are installed, as in a Jupyter environment: 2-17 s measured
here). Both are imported on first use, never at ``import ai_sessions``.

Strict mode (OpenAI's ``strict: true``: every object closed, every property required) is decided per
schema: a schema made from a type is sent in that form (the model then always writes every field, which the
type still validates), unless it holds an object that is open on purpose (a ``dict[str, int]`` field); a
dict schema is sent as given, strict only when it already follows those rules.

Types used in this process are remembered by name, so ``Message.parsed`` can rebuild the object from the
stored JSON (after a kernel restart, until the type is used again, ``parsed`` is the JSON data).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import AiSessionsError, ProviderError

MAX_NAME = 64
SCHEMA_HINT = "pass a pydantic model, a TypedDict, a dataclass or a JSON Schema dict describing an object"
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.S)


class InvalidOutput(ProviderError):
    """The reply is not valid JSON for the schema, even after one repair round. The reply's text is kept
    in the message (``raw`` here too)."""

    kind = "invalid_output"

    def __init__(self, message: str, *, raw: str = "", problems: str = "", provider: str = "") -> None:
        self.raw = raw
        self.problems = problems
        super().__init__(message, provider=provider,
                         hint="the raw reply is kept in the message; make the prompt or schema clearer, or try a "
                              "stronger model, then regenerate")


@dataclass(frozen=True, eq=False)
class OutputSchema:
    """What a ``schema=`` argument becomes. ``json_schema`` is what providers get; ``fields`` are the
    top-level properties (a DataFrame's columns)."""

    name: str
    json_schema: Mapping[str, Any]
    strict: bool
    source: Any = field(repr=False)
    fields: tuple[str, ...] = ()
    #: pydantic's TypeAdapter for a type, or a compiled fastjsonschema validator for a dict schema
    _validator: Any = field(default=None, repr=False, compare=False)

    @property
    def python_type(self) -> Any:
        """The type the user gave (None for a JSON Schema dict)."""
        return None if isinstance(self.source, Mapping) else self.source

    def parse(self, text: str) -> tuple[Any, Any]:
        """``(value, data)`` from a reply's text: the validated object (a dict for a dict schema) and its
        JSON data. Raises :class:`ValueError` saying what is wrong (for the repair round)."""
        try:
            data = json.loads(extract_json(text))
        except ValueError as exc:
            raise ValueError(f"the reply is not valid JSON ({exc})") from None
        return self.load(data), data

    def load(self, data: Any) -> Any:
        """The validated value of JSON ``data``; raises :class:`ValueError` listing the problems."""
        if self.python_type is None:
            import fastjsonschema

            try:
                return self._validator(data)
            except fastjsonschema.JsonSchemaValueException as exc:
                where = exc.message.removeprefix("data.").removeprefix("data ")
                raise ValueError(f"{where} (got {exc.value!r:.60})") from None
        from pydantic import ValidationError

        try:
            return self._validator.validate_python(data)
        except ValidationError as exc:
            problems = [f"{_path(e['loc'])}{e['msg']}" + (f" (got {e['input']!r:.60})" if 'input' in e else "")
                        for e in exc.errors(include_url=False)]
            raise ValueError("; ".join(problems[:5])) from None

    def row(self, value: Any) -> dict[str, Any]:
        """``value`` as one DataFrame row: field -> Python value (nested objects as dicts)."""
        if self.python_type is None:
            data = value if isinstance(value, Mapping) else {}
        else:
            data = self._validator.dump_python(value)
        return {name: data.get(name) for name in self.fields}


def output_schema(spec: Any) -> OutputSchema:
    """The :class:`OutputSchema` of ``spec`` (a type or a JSON Schema dict), remembered by name."""
    if isinstance(spec, OutputSchema):
        return spec
    if isinstance(spec, Mapping):
        out = _from_dict(spec)
    else:
        out = _from_type(spec)
    register(out)
    return out


def stored_schema(name: str, json_schema: Mapping[str, Any]) -> OutputSchema:
    """A job's schema as stored, for a kernel where its type is not known: validated as JSON Schema, its
    values are the JSON data (not registered, so a type registered later still wins)."""
    return dataclasses.replace(_from_dict(json_schema), name=name)


# -- registry -------------------------------------------------------------------------------------------
_registry: dict[str, OutputSchema] = {}
_by_source: dict[Any, OutputSchema] = {}
_lock = threading.Lock()


def register(out: OutputSchema) -> None:
    """Remember ``out`` by name (the newest wins), so stored results of that name load as its type."""
    with _lock:
        _registry[out.name] = out


def lookup(name: str) -> OutputSchema | None:
    """The schema registered as ``name`` in this process, or None."""
    with _lock:
        return _registry.get(name)


def parsed_value(data: Any, name: str) -> Any:
    """Stored structured ``data`` as the type registered for ``name`` (else the data itself)."""
    out = lookup(name)
    if out is None or out.python_type is None:
        return data
    try:
        return out.load(data)
    except ValueError:  # the type changed since the data was stored: give the data rather than fail
        return data


# -- building -------------------------------------------------------------------------------------------
def _from_type(spec: Any) -> OutputSchema:
    key = spec
    try:
        with _lock:
            cached = _by_source.get(key)
    except TypeError:  # unhashable (a parametrised generic): build every time
        key, cached = None, None
    if cached is not None:
        return cached
    try:
        from pydantic import TypeAdapter
        from pydantic.errors import PydanticUserError
    except ImportError:  # pragma: no cover - pydantic is a base dependency
        raise AiSessionsError("structured output needs pydantic", hint="pip install 'pydantic>=2.7'") from None
    try:
        adapter = TypeAdapter(_pydantic_ready(spec))
        schema = adapter.json_schema()
    except (PydanticUserError, TypeError, ValueError, NameError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AiSessionsError(f"cannot make a JSON schema of {spec!r} ({first})", hint=SCHEMA_HINT) from None
    properties = _object_properties(schema, spec)
    strict_form = _strict(schema)
    name = _name(getattr(spec, "__name__", None) or schema.get("title") or "output")
    out = OutputSchema(name, strict_form if strict_form is not None else schema, strict_form is not None, spec,
                       tuple(properties), adapter)
    if key is not None:
        with _lock:
            _by_source[key] = out
    return out


def _from_dict(spec: Mapping[str, Any]) -> OutputSchema:
    try:
        schema = json.loads(json.dumps(spec))
    except (TypeError, ValueError) as exc:
        raise AiSessionsError(f"the schema dict is not JSON ({exc})", hint=SCHEMA_HINT) from None
    try:
        import fastjsonschema
    except ImportError:  # pragma: no cover - a base dependency
        raise AiSessionsError("JSON Schema dicts need fastjsonschema",
                              hint="pip install 'fastjsonschema>=2.19'") from None
    try:
        validator = fastjsonschema.compile(schema)
    except Exception as exc:  # JsonSchemaDefinitionException, or a malformed keyword's own error
        raise AiSessionsError(f"the schema dict is not a valid JSON Schema ({type(exc).__name__}: {exc})",
                              hint=SCHEMA_HINT) from None
    properties = _object_properties(schema, "the schema dict")
    strict = _strict(schema) == schema
    return OutputSchema(_name(str(schema.get("title") or "output")), schema, strict, spec, tuple(properties),
                        validator)


def _pydantic_ready(spec: Any) -> Any:
    """``spec`` in a form pydantic takes: on Python < 3.12 it refuses ``typing.TypedDict`` (it wants
    ``typing_extensions.TypedDict``), so such a class is rebuilt with the same keys and types."""
    import typing

    if sys.version_info >= (3, 12) or not typing.is_typeddict(spec) or type(spec).__module__ != "typing":
        return spec
    import typing_extensions as te

    hints = typing.get_type_hints(spec, include_extras=True)
    keys = {k: te.Required[v] if k in spec.__required_keys__ else te.NotRequired[v] for k, v in hints.items()}
    return te.TypedDict(spec.__name__, keys)  # type: ignore[operator]


def _object_properties(schema: Mapping[str, Any], what: Any) -> dict[str, Any]:
    root = schema
    if "$ref" in root:
        root = _resolve(root["$ref"], schema)
    if root.get("type") != "object" and "properties" not in root:
        what = what if isinstance(what, str) else repr(what)
        raise AiSessionsError(f"{what} does not describe a JSON object (providers want an object at the top)",
                              hint="wrap the value in a model, e.g. class Answer(BaseModel): value: list[str]")
    return dict(root.get("properties") or {})


def _name(text: str) -> str:
    return _NAME_CHARS.sub("_", text)[:MAX_NAME] or "output"


def _strict(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """``schema`` in OpenAI's strict form (every object closed, every property required, no ``$ref`` with
    siblings, no ``default: null``), or None when an object is open on purpose."""
    root = copy.deepcopy(dict(schema))
    return root if _close(root, root) else None


def _close(node: Any, root: dict[str, Any]) -> bool:
    if isinstance(node, list):
        return all(_close(item, root) for item in node)
    if not isinstance(node, dict):
        return True
    if "$ref" in node and len(node) > 1:  # strict mode refuses keywords next to a $ref: inline it
        target = copy.deepcopy(_resolve(node.pop("$ref"), root))
        node.update({**target, **node})
    if "default" in node and node["default"] is None:
        del node["default"]
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") not in (None, False):
            return False
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties") or {})
    children = [*(node.get("properties") or {}).values(), *(node.get("$defs") or {}).values(),
                *(node.get("definitions") or {}).values(), *(node.get("anyOf") or []), *(node.get("allOf") or []),
                *(node.get("oneOf") or []), *(node.get("prefixItems") or [])]
    if isinstance(node.get("items"), dict):
        children.append(node["items"])
    return all(_close(child, root) for child in children)


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#/"):
        raise AiSessionsError(f"only local $refs are supported in a schema, not {ref!r}", hint=SCHEMA_HINT)
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _path(loc: Any) -> str:
    steps = [str(step) for step in loc]
    return f"{'.'.join(steps)}: " if steps else ""


# -- reply text -------------------------------------------------------------------------------------------
def extract_json(text: str) -> str:
    """The JSON in a reply: the whole text, or the inside of a Markdown code fence around it, or from the
    first ``{`` to the last ``}`` (models without native structured output sometimes add a sentence)."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        return fenced.group(1).strip()
    if stripped.startswith(("{", "[")):
        return stripped
    start, end = stripped.find("{"), stripped.rfind("}")
    return stripped[start:end + 1] if 0 <= start < end else stripped


def repair_prompt(problems: str) -> str:
    """The user turn of the repair round: what was wrong, and what to do."""
    return (f"Your reply does not match the required JSON schema: {problems}. Reply again with only the JSON "
            "object, matching the schema exactly.")
