"""The generateContent request rules the fake Gemini server enforces, and its optional implicit cache.

Rules: ``contents`` start with ``user`` and alternate ``user`` / ``model``; each has parts, each part
one of ``text`` (not blank), ``inlineData {mimeType, data}`` (base64), ``fileData {fileUri}``,
``functionCall {name, args}`` (model turns) or ``functionResponse {name, response}`` (user turns). A
function-response turn must follow a function-call turn, answer as many calls as it made, and name only
functions that turn called (matching ``id`` when the call had one). ``tools`` carry
``functionDeclarations`` (``name``, ``parameters`` or ``parametersJsonSchema``);
``toolConfig.functionCallingConfig.mode`` is ``AUTO`` / ``ANY`` / ``NONE`` / ``VALIDATED``;
``generationConfig.responseSchema`` / ``responseJsonSchema`` (not both) need ``responseMimeType``
``application/json``.

Implicit cache (:class:`PrefixCache`, on when ``GeminiProtocol(implicit_cache=True)``): a request whose
leading contents (with the same model, system instruction and tools; the last of them possibly only its
first parts) were sent before reports their tokens as ``usageMetadata.cachedContentTokenCount`` (part of
``promptTokenCount``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from typing import Any

from .protocol import Problem, word_count

NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}")
DATA_KEYS = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
             "codeExecutionResult")
OPAQUE = {"args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema",
          "metadata"}
MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")
AFTER_CALL = "Please ensure that function response turn comes immediately after a function call turn."
SAME_COUNT = ("Please ensure that the number of function response parts is equal to the number of function call "
              "parts of the function call turn.")


def normalize(value: Any) -> Any:
    """The request with proto field names in lowerCamelCase: the API takes both spellings (the SDK sends
    ``inlineData: {mime_type}``), while user data (call args, responses, schemas, metadata) stays as is."""
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        out[key] = item if key in OPAQUE else normalize(item)
    return out


def validate(body: Any) -> str | None:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for i, content in enumerate(contents):
        role = content.get("role")
        if role not in ("user", "model"):
            return f"* GenerateContentRequest.contents[{i}].role: Please use a valid role: user, model."
        if i == 0 and role != "user":
            return "* GenerateContentRequest.contents: the first content must come from the user"
        if i > 0 and role == contents[i - 1].get("role"):
            return "* GenerateContentRequest.contents: roles must alternate between user and model"
        problem = _parts(i, content) or _responses(contents, i)
        if problem:
            return problem
    system = body.get("systemInstruction")
    if system is not None and not any(p.get("text", "").strip() for p in system.get("parts", [])):
        return "* GenerateContentRequest.system_instruction: must contain text"
    return _tools(body) or _generation_config(body)


def _parts(i: int, content: Any) -> str | None:
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        return f"* GenerateContentRequest.contents[{i}].parts: must contain text"
    for j, part in enumerate(parts):
        where = f"* GenerateContentRequest.contents[{i}].parts[{j}]"
        kinds = [k for k in DATA_KEYS if k in part]
        if len(kinds) != 1:
            return f"{where}.data: required oneof field 'data' must have one initialized field"
        kind = kinds[0]
        if kind == "text" and not (isinstance(part["text"], str) and part["text"].strip()):
            return f"* GenerateContentRequest.contents[{i}].parts: must contain text"
        inline = part.get("inlineData") or {}
        if kind == "inlineData" and not (inline.get("mimeType") and _is_base64(inline.get("data"))):
            return f"{where}.inline_data: needs a mimeType and base64 data"
        if kind == "functionCall" and (content["role"] != "model" or not NAME.fullmatch(
                str(part["functionCall"].get("name", "")))):
            return f"{where}.function_call: a model turn's call needs a valid name"
        if kind == "functionResponse" and (content["role"] != "user" or not isinstance(
                part["functionResponse"].get("response"), dict)):
            return f"{where}.function_response: a user turn's response needs a name and an object response"
    return None


def _is_base64(data: Any) -> bool:
    """Proto3 JSON bytes: standard or URL-safe base64, padded or not (the SDK sends URL-safe)."""
    if not isinstance(data, str) or not data:
        return False
    standard = data.replace("-", "+").replace("_", "/")
    try:
        return bool(base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True))
    except (binascii.Error, ValueError):
        return False


def _of(content: Any, kind: str) -> list[dict[str, Any]]:
    return [p[kind] for p in content.get("parts") or [] if kind in p]


def _responses(contents: list[Any], i: int) -> str | None:
    responses = _of(contents[i], "functionResponse")
    if not responses:
        return None
    calls = _of(contents[i - 1], "functionCall") if i > 0 else []
    if not calls:
        return AFTER_CALL
    if len(responses) != len(calls):
        return SAME_COUNT
    for j, response in enumerate(responses):
        matching = [c for c in calls if c.get("name") == response.get("name")]
        if response.get("id") is not None:
            matching = [c for c in matching if c.get("id") in (None, response["id"])]
        if not matching:
            return Problem(f"* GenerateContentRequest.contents[{i}].parts[{j}].function_response.name: no function "
                           f"call named '{response.get('name')}' in the previous model turn. {AFTER_CALL}")
    return None


def _tools(body: Any) -> str | None:
    for i, tool in enumerate(body.get("tools") or []):
        for j, declaration in enumerate(tool.get("functionDeclarations") or []):
            if not NAME.fullmatch(str(declaration.get("name", ""))):
                return (f"* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Invalid function "
                        "name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), "
                        "underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.")
            if "parameters" in declaration and "parametersJsonSchema" in declaration:
                return (f"* GenerateContentRequest.tools[{i}].function_declarations[{j}]: parameters and "
                        "parameters_json_schema cannot both be set")
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if config.get("mode", "AUTO") not in MODES:
        return f"* GenerateContentRequest.tool_config.function_calling_config.mode: unknown mode {config['mode']}"
    allowed = config.get("allowedFunctionNames")
    if allowed and not set(allowed) <= set(functions(body)):
        return ("* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: every name "
                "must be a declared function")
    return None


def _generation_config(body: Any) -> str | None:
    config = body.get("generationConfig") or {}
    has_schema = "responseSchema" in config or "responseJsonSchema" in config
    if "responseSchema" in config and "responseJsonSchema" in config:
        return "* GenerateContentRequest.generation_config: response_schema and response_json_schema cannot both be set"
    if has_schema and config.get("responseMimeType") != "application/json":
        return ("* GenerateContentRequest.generation_config.response_mime_type: a response schema needs "
                "response_mime_type 'application/json'")
    return None


def functions(body: Any) -> dict[str, Any]:
    """Declared function name -> parameters schema."""
    return {d["name"]: d.get("parametersJsonSchema", d.get("parameters"))
            for t in body.get("tools") or [] for d in t.get("functionDeclarations") or [] if "name" in d}


def forced_function(body: Any) -> str | None:
    """The function ``ANY`` mode forces: the first allowed name, ``""`` (any), or None."""
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if config.get("mode") != "ANY":
        return None
    return (config.get("allowedFunctionNames") or [""])[0]


def output_schema(body: Any) -> tuple[Any, bool]:
    """(the response schema, JSON asked without one)."""
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") != "application/json":
        return None, False
    schema = config.get("responseJsonSchema", config.get("responseSchema"))
    return schema, schema is None


def function_results(body: Any) -> tuple[str, ...]:
    """The text of the functionResponse parts in the last (user) content: a lone string value, else JSON."""
    last = (body.get("contents") or [{}])[-1]
    if last.get("role") != "user":
        return ()
    results = []
    for response in _of(last, "functionResponse"):
        value = response.get("response") or {}
        values = list(value.values())
        results.append(values[0] if len(values) == 1 and isinstance(values[0], str)
                       else json.dumps(value, ensure_ascii=False))
    return tuple(results)


class PrefixCache:
    """Leading-contents prefixes seen before, for ``cachedContentTokenCount`` (see the module docstring)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def cached_tokens(self, model: str, body: Any, total: int) -> int:
        contents = body.get("contents") or []
        fixed = [model, body.get("systemInstruction"), body.get("tools")]
        cached = 0
        with self.lock:
            for k, content in enumerate(contents):  # prefixes end after a whole content or after one of its parts
                parts = content.get("parts") or []
                for j in range(1, len(parts) + 1):
                    prefix = [*contents[:k], {**content, "parts": parts[:j]}]
                    key = hashlib.sha256(json.dumps([*fixed, prefix], sort_keys=True).encode()).hexdigest()
                    if key in self.seen:
                        cached = min(total, word_count([body.get("systemInstruction"), prefix]))
                    self.seen.add(key)
        return cached
