"""The Chat Completions request rules the fake OpenAI server enforces, with the API's own error texts.

Messages: ``system`` / ``developer`` / ``user`` / ``assistant`` / ``tool``; user content is a string or
an array of parts (``text``, ``image_url`` with an http(s) or base64 ``data:`` URL, ``input_audio``,
``file``); an assistant message may carry ``tool_calls`` (then ``content`` may be null) and must be
followed by one ``tool`` message per call id; a ``tool`` message must answer a call of the assistant
message before it. ``tools`` are function tools (``parameters`` a JSON Schema); ``tool_choice`` is
``none`` / ``auto`` / ``required`` / a named function; ``response_format`` is ``text``, ``json_object``
(the messages must mention JSON) or ``json_schema``. A strict schema (``strict: true`` on a
``json_schema`` or a function) must close every object (``additionalProperties: false``) and require
every property, as the API demands.
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
from .replies import text_of

ROLES = {"system", "developer", "user", "assistant", "tool"}
NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,(.*)", re.S)
USER_PARTS = {"text", "image_url", "input_audio", "file"}


def validate(body: Any) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    if not isinstance(body.get("stream", False), bool):
        return "'stream' must be a boolean"
    for i, message in enumerate(messages):
        problem = _message(messages, i, message)
        if problem:
            return problem
    options = body.get("stream_options")
    if options is not None and not isinstance(options.get("include_usage"), bool):
        return "'stream_options.include_usage' must be a boolean"
    return _tools(body) or _response_format(body)


def _message(messages: list[Any], i: int, message: Any) -> str | None:
    role, content = message.get("role"), message.get("content")
    if role not in ROLES:
        return f"Invalid value for 'messages[{i}].role'"
    if role == "system" and i != 0:
        return "the system message must come first"
    if role == "user":
        return _user_content(i, content)
    if role == "assistant":
        calls = message.get("tool_calls")
        if calls is not None:
            problem = _tool_calls(i, calls)
            if problem:
                return problem
            answered = [m.get("tool_call_id") for m in _following_tools(messages, i)]
            for k, call_id in enumerate(answered, start=i + 1):  # an unknown id is reported before a missing one
                if call_id not in [c["id"] for c in calls]:
                    return _unknown_id(k, call_id)
            missing = [c["id"] for c in calls if c["id"] not in answered]
            if missing:
                return Problem("An assistant message with 'tool_calls' must be followed by tool messages responding "
                               "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                               + ", ".join(missing), f"messages.[{i}].role")
            if content is None:
                return None
    if role == "tool":
        return _tool_message(messages, i, message)
    if not (isinstance(content, str) or _text_parts(content)):
        return f"'messages[{i}].content' must be a string or an array of text parts"
    return None


def _user_content(i: int, content: Any) -> str | None:
    if isinstance(content, str):
        return None
    if not isinstance(content, list) or not content:
        return f"'messages[{i}].content' must be a string or a non-empty array of content parts"
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in USER_PARTS:
            return Problem(f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', 'input_audio', "
                           "'refusal', 'audio', and 'file'.", f"messages.[{i}].content.[{j}].type")
        if kind == "text" and not isinstance(part.get("text"), str):
            return f"'messages[{i}].content[{j}].text' must be a string"
        if kind == "image_url":
            url = (part.get("image_url") or {}).get("url")
            if not isinstance(url, str) or not _image_url(url):
                return Problem(f"Invalid image URL: 'messages[{i}].content[{j}].image_url.url' must be an http(s) URL "
                               "or a base64 data URL of a png, jpeg, gif or webp image.",
                               f"messages.[{i}].content.[{j}].image_url.url")
    return None


def _image_url(url: str) -> bool:
    if url.startswith(("http://", "https://")):
        return True
    match = DATA_URL.fullmatch(url)
    return bool(match) and _is_base64(match.group(2))


def _is_base64(data: str) -> bool:
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return False
    return bool(data)


def _text_parts(content: Any) -> bool:
    return isinstance(content, list) and bool(content) and all(
        isinstance(p, dict) and p.get("type") in ("text", "refusal") for p in content)


def _tool_calls(i: int, calls: Any) -> str | None:
    if not isinstance(calls, list) or not calls:
        return f"'messages[{i}].tool_calls' must be a non-empty array"
    for j, call in enumerate(calls):
        function = call.get("function") or {}
        if not (isinstance(call.get("id"), str) and call.get("type") == "function"
                and isinstance(function.get("name"), str) and isinstance(function.get("arguments"), str)):
            return Problem(f"Missing required parameter: 'messages[{i}].tool_calls[{j}]' needs 'id', 'type': "
                           "'function' and 'function' with 'name' and 'arguments' (a string).",
                           f"messages.[{i}].tool_calls.[{j}]")
    return None


def _following_tools(messages: list[Any], i: int) -> list[Any]:
    tools = []
    for message in messages[i + 1:]:
        if message.get("role") != "tool":
            break
        tools.append(message)
    return tools


def _tool_message(messages: list[Any], i: int, message: Any) -> str | None:
    j = i - 1
    while j >= 0 and messages[j].get("role") == "tool":
        j -= 1
    calls = messages[j].get("tool_calls") if j >= 0 and messages[j].get("role") == "assistant" else None
    if not calls:
        return Problem("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                       "'tool_calls'.", f"messages.[{i}].role")
    call_id = message.get("tool_call_id")
    if call_id not in [c.get("id") for c in calls]:
        return _unknown_id(i, call_id)
    content = message.get("content")
    if not (isinstance(content, str) or _text_parts(content)):
        return f"'messages[{i}].content' must be a string or an array of text parts"
    return None


def _unknown_id(i: int, call_id: Any) -> Problem:
    return Problem(f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' of previous message.",
                   f"messages.[{i}].tool_call_id")


def _tools(body: Any) -> str | None:
    tools, choice = body.get("tools"), body.get("tool_choice")
    if tools is not None:
        if not isinstance(tools, list):
            return Problem("Invalid type for 'tools': expected an array.", "tools")
        for i, tool in enumerate(tools):
            function = tool.get("function") or {}
            if tool.get("type") != "function" or not NAME.fullmatch(str(function.get("name", ""))):
                return Problem(f"Invalid 'tools[{i}].function.name': string does not match pattern. Expected a "
                               "string that matches the pattern '^[a-zA-Z0-9_-]+$'.", f"tools[{i}].function.name")
            parameters = function.get("parameters")
            if parameters is not None and not isinstance(parameters, dict):
                return Problem(f"Invalid type for 'tools[{i}].function.parameters': expected an object.",
                               f"tools[{i}].function.parameters")
            if function.get("strict") and parameters is not None:
                problem = strict_schema(parameters)
                if problem:
                    return Problem(f"Invalid schema for function '{function['name']}': {problem}",
                                   f"tools[{i}].function.parameters")
    if choice is None:
        return None
    if not tools:
        return Problem("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                       "tool_choice")
    if isinstance(choice, str):
        return None if choice in ("none", "auto", "required") else Problem(
            f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.", "tool_choice")
    name = (choice.get("function") or {}).get("name")
    if name not in tool_names(body):
        return Problem(f"Invalid value for 'tool_choice': no function named '{name}' was specified in the 'tools' "
                       "parameter.", "tool_choice")
    return None


def _response_format(body: Any) -> str | None:
    fmt = body.get("response_format")
    if fmt is None or fmt.get("type") == "text":
        return None
    if fmt.get("type") == "json_object":
        if "json" not in str([text_of(m.get("content")) for m in body["messages"]]).lower():
            return Problem("'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                           "'json_object'.", "messages")
        return None
    if fmt.get("type") != "json_schema":
        return Problem(f"Invalid value: '{fmt.get('type')}'. Supported values are: 'json_object', 'json_schema', "
                       "and 'text'.", "response_format.type")
    spec = fmt.get("json_schema") or {}
    if not NAME.fullmatch(str(spec.get("name", ""))):
        return Problem("Missing required parameter: 'response_format.json_schema.name'.",
                       "response_format.json_schema.name")
    if spec.get("strict"):
        problem = strict_schema(spec.get("schema") or {})
        if problem:
            return Problem(f"Invalid schema for response_format '{spec['name']}': {problem}",
                           "response_format.json_schema.schema")
    return None


def strict_schema(schema: Any, context: tuple[str, ...] = ()) -> str | None:
    """Why a schema breaks the strict-mode rules (every object closed, every property required), or None."""
    if not isinstance(schema, dict):
        return None
    where = f"In context={context!r}, "
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return where + "'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        missing = [p for p in properties if p not in (schema.get("required") or [])]
        if missing:
            return (where + "'required' is required to be supplied and to be an array including every key in "
                    f"properties. Missing '{missing[0]}'.")
        for name, sub in properties.items():
            problem = strict_schema(sub, (*context, "properties", name))
            if problem:
                return problem
    children = [schema.get("items"), *(schema.get("anyOf") or []), *(schema.get("$defs") or {}).values()]
    for child in children:
        problem = strict_schema(child, context)
        if problem:
            return problem
    return None


def tool_names(body: Any) -> list[str]:
    return [(t.get("function") or {}).get("name") for t in body.get("tools") or []]


def forced_tool(body: Any) -> str | None:
    """The tool ``tool_choice`` forces: its name, ``""`` for ``required`` (any), or None."""
    choice = body.get("tool_choice")
    if choice == "required":
        return ""
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name")
    return None


def tool_results(messages: list[Any]) -> tuple[str, ...]:
    """The text of the trailing ``tool`` messages (the results the last turn carries)."""
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, text_of(message.get("content")))
    return tuple(results)


class PrefixCache:
    """Automatic prompt caching as OpenAI reports it: a request whose leading messages (with the same model,
    tools and response format) were sent before reports their tokens as ``cached_tokens``. No minimum
    length and no expiry, so tests are deterministic."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def cached_tokens(self, body: Any, total: int) -> int:
        messages = body.get("messages") or []
        fixed = [body.get("model"), body.get("tools"), body.get("response_format")]
        cached = 0
        with self.lock:
            for k in range(1, len(messages) + 1):
                key = hashlib.sha256(json.dumps([*fixed, messages[:k]], sort_keys=True).encode()).hexdigest()
                if key in self.seen:
                    cached = min(total, word_count(messages[:k]))
                self.seen.add(key)
        return cached
