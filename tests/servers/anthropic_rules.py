"""The Messages API request rules the fake Anthropic server enforces, with the API's own error texts, and
its deterministic prompt cache.

Rules: ``max_tokens`` required, messages start with ``user`` and alternate, text is not blank,
``system`` is a top-level string or list of text blocks, and a final assistant turn has no trailing
whitespace. Content is a string or a list of blocks: ``text``, ``image`` (``source`` ``base64`` with a
png / jpeg / gif / webp ``media_type``, or ``url``), ``document`` (``base64`` PDF, ``text``, ``content``
or ``url`` source), ``tool_result`` (``tool_use_id``, ``content`` a string or blocks, ``is_error``) in
user turns; ``text`` and ``tool_use`` (``id``, ``name``, ``input``) in assistant turns. Every
``tool_use`` needs a ``tool_result`` in the next message, and every ``tool_result`` a ``tool_use`` in
the previous one. ``tools`` have ``name`` and an object ``input_schema``; ``tool_choice`` is ``auto`` /
``any`` / ``tool`` (a declared name) / ``none``; ``output_config.format`` is ``{"type": "json_schema",
"schema": {...}}``. At most 4 blocks carry ``cache_control`` (``{"type": "ephemeral"}``).

Prompt cache (:class:`PromptCache`): each ``cache_control`` breakpoint (and the top-level
``cache_control``, which marks the last block) caches the request's prefix up to it (tools, then system,
then messages). A request whose breakpoint prefix was cached before reads it
(``cache_read_input_tokens``); the rest up to its last breakpoint is written
(``cache_creation_input_tokens``); ``input_tokens`` is what remains. No minimum length, no expiry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from typing import Any

from .protocol import word_count
from .replies import text_of

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
USER_BLOCKS = {"text", "image", "document", "tool_result", "search_result"}
ASSISTANT_BLOCKS = {"text", "tool_use", "thinking", "redacted_thinking", "server_tool_use", "web_search_tool_result"}
BLANK = "text content blocks must contain non-whitespace text"


def validate(body: Any) -> str | None:
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    if not isinstance(body.get("stream", False), bool):
        return "stream: Input should be a valid boolean"
    system = body.get("system")
    if system is not None and not _system_ok(system):
        return f"system: {BLANK}"
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        return "temperature: range: 0..1"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        problem = _message(messages, i, message)
        if problem:
            return problem
    last = messages[-1]
    if last["role"] == "assistant":
        content = last["content"]
        text = content if isinstance(content, str) else (content[-1].get("text") or "")
        if text != text.rstrip():
            return "messages: final assistant content cannot end with trailing whitespace"
    return _tools(body) or _output_config(body) or _cache_controls(body)


def _system_ok(system: Any) -> bool:
    if isinstance(system, str):
        return bool(system.strip())
    return isinstance(system, list) and bool(system) and all(
        b.get("type") == "text" and str(b.get("text", "")).strip() for b in system)


def _message(messages: list[Any], i: int, message: Any) -> str | None:
    role, content = message.get("role"), message.get("content")
    if role not in ("user", "assistant"):
        return f"messages.{i}.role: Input should be 'user' or 'assistant'"
    if i == 0 and role != "user":
        return "messages: first message must use the \"user\" role"
    if i > 0 and role == messages[i - 1].get("role"):
        return "messages: roles must alternate between \"user\" and \"assistant\""
    if isinstance(content, str):
        return None if content.strip() else f"messages.{i}: {BLANK}"
    if not isinstance(content, list) or not content:
        return f"messages.{i}.content: Input should be a valid string or a non-empty list of content blocks"
    allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in allowed:
            return f"messages.{i}.content.{j}.type: Input tag '{kind}' is not allowed in a {role} message"
        problem = _block(f"messages.{i}.content.{j}", block)
        if problem:
            return problem
    return _pairing(messages, i)


def _block(where: str, block: dict[str, Any]) -> str | None:
    kind = block["type"]
    if kind == "text" and not (isinstance(block.get("text"), str) and block["text"].strip()):
        return f"{where}: {BLANK}"
    if kind == "image":
        return _image_source(where, block.get("source") or {})
    if kind == "document":
        return _document_source(where, block.get("source") or {})
    if kind == "tool_use" and not (isinstance(block.get("id"), str) and isinstance(block.get("name"), str)
                                   and isinstance(block.get("input"), dict)):
        return f"{where}: tool_use blocks need a string id and name and an object input"
    if kind == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            return f"{where}.tool_use_id: Field required"
        content = block.get("content")
        if content is not None and not isinstance(content, str):
            for k, inner in enumerate(content):
                if inner.get("type") not in ("text", "image", "document", "search_result"):
                    return f"{where}.content.{k}.type: Input tag '{inner.get('type')}' is not allowed in a tool result"
                problem = _block(f"{where}.content.{k}", inner)
                if problem:
                    return problem
        if not isinstance(block.get("is_error", False), bool):
            return f"{where}.is_error: Input should be a valid boolean"
    return None


def _image_source(where: str, source: dict[str, Any]) -> str | None:
    if source.get("type") == "url":
        ok = str(source.get("url", "")).startswith(("http://", "https://"))
        return None if ok else f"{where}.source.url: Input should be an http(s) URL"
    if source.get("type") == "file":
        return None if isinstance(source.get("file_id"), str) else f"{where}.source.file_id: Field required"
    if source.get("type") != "base64":
        return f"{where}.source.type: Input tag '{source.get('type')}' does not match 'base64', 'url' or 'file'"
    if source.get("media_type") not in IMAGE_TYPES:
        return (f"{where}.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or "
                "'image/webp'")
    return None if _is_base64(source.get("data")) else f"{where}.source.data: The image data is not valid base64"


def _document_source(where: str, source: dict[str, Any]) -> str | None:
    kind = source.get("type")
    if kind == "base64":
        if source.get("media_type") != "application/pdf":
            return f"{where}.source.media_type: Input should be 'application/pdf'"
        return None if _is_base64(source.get("data")) else f"{where}.source.data: The PDF data is not valid base64"
    if kind == "text":
        ok = source.get("media_type") == "text/plain" and isinstance(source.get("data"), str)
        return None if ok else f"{where}.source: a text source needs media_type 'text/plain' and string data"
    if kind == "content":
        return None if source.get("content") else f"{where}.source.content: Field required"
    if kind in ("url", "file"):
        return None
    return f"{where}.source.type: Input tag '{kind}' does not match 'base64', 'text', 'content', 'url' or 'file'"


def _is_base64(data: Any) -> bool:
    try:
        return isinstance(data, str) and bool(data) and bool(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return False


def _blocks(message: Any, kind: str) -> list[dict[str, Any]]:
    content = message.get("content")
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind] if isinstance(content, list) else []


def _pairing(messages: list[Any], i: int) -> str | None:
    """tool_use <-> tool_result pairing between message ``i`` and its neighbours."""
    if messages[i]["role"] == "user":
        return _unexpected_results(messages, i)
    following = messages[i + 1] if i + 1 < len(messages) else None
    if following is None:
        return None
    if _readable(following):  # an unknown result id is reported before a missing result
        problem = _unexpected_results(messages, i + 1)
        if problem:
            return problem
    answered = {b.get("tool_use_id") for b in _blocks(following, "tool_result")}
    missing = [b["id"] for b in _blocks(messages[i], "tool_use") if b["id"] not in answered]
    if missing:
        return (f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in "
                "the next message.")
    return None


def _readable(message: Any) -> bool:
    """Whether a message's blocks can be read for pairing (their own checks come when it is reached)."""
    content = message.get("content")
    return isinstance(content, list) and all(
        isinstance(b, dict) and (b.get("type") != "tool_result" or isinstance(b.get("tool_use_id"), str))
        for b in content)


def _unexpected_results(messages: list[Any], i: int) -> str | None:
    previous = messages[i - 1] if i > 0 else {}
    uses = {b.get("id") for b in _blocks(previous, "tool_use")}
    for j, block in enumerate(messages[i]["content"]):
        if block.get("type") == "tool_result" and block["tool_use_id"] not in uses:
            return (f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{block['tool_use_id']}. Each `tool_result` block must have a corresponding `tool_use` block "
                    "in the previous message.")
    return None


def _tools(body: Any) -> str | None:
    tools, choice = body.get("tools"), body.get("tool_choice")
    for i, tool in enumerate(tools or []):
        if tool.get("type") not in (None, "custom"):
            continue  # a server tool (web search, code execution...): its own fields
        if not TOOL_NAME.fullmatch(str(tool.get("name", ""))):
            return f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return f"tools.{i}.custom.input_schema.type: Input should be 'object'"
    if choice is None:
        return None
    kind = choice.get("type")
    if kind not in ("auto", "any", "tool", "none"):
        return f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags"
    if kind in ("any", "tool") and not tools:
        return "tool_choice: tool_choice may only be specified while providing tools."
    if kind == "tool" and choice.get("name") not in tool_schemas(body):
        return f"tool_choice: Tool '{choice.get('name')}' not found in provided tools"
    return None


def _output_config(body: Any) -> str | None:
    fmt = (body.get("output_config") or {}).get("format")
    if fmt is None:
        return None
    if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        return "output_config.format: expected {\"type\": \"json_schema\", \"schema\": {...}}"
    return None


def _cache_controls(body: Any) -> str | None:
    marked = [u for u in _units(body) if u.get("cache_control")]
    for unit in marked:
        if (unit["cache_control"] or {}).get("type") != "ephemeral":
            return "cache_control.type: Input should be 'ephemeral'"
    if len(marked) > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {len(marked)}."
    return None


def _units(body: Any) -> list[dict[str, Any]]:
    """The request's cacheable prefix units in cache order: tools, system blocks, message blocks."""
    units = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    system = body.get("system")
    units += [{"type": "text", "text": system}] if isinstance(system, str) else list(system or [])
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        units += [{**b, "role": message.get("role")} for b in blocks if isinstance(b, dict)]
    return units


def prompt_tokens(body: Any) -> int:
    return word_count([body.get("system"), body.get("messages")]) + (word_count(body["tools"]) if body.get("tools")
                                                                      else 0)


class PromptCache:
    """The server's prompt cache: prefix hashes it has seen (see the module docstring)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def usage(self, model: str, body: Any) -> dict[str, Any]:
        """Input usage of a request (and the cache writes it makes): plain ``input_tokens`` without caching."""
        total = prompt_tokens(body)
        units = _units(body)
        marks = [i for i, u in enumerate(units) if u.get("cache_control")]
        if body.get("cache_control") and units:
            marks.append(len(units) - 1)
        if not marks:
            return {"input_tokens": total}
        clean = [{k: v for k, v in u.items() if k != "cache_control"} for u in units]
        read = written = 0
        with self.lock:
            for mark in sorted(set(marks)):
                key = hashlib.sha256(json.dumps([model, clean[:mark + 1]], sort_keys=True).encode()).hexdigest()
                tokens = min(total, sum(word_count(u) for u in clean[:mark + 1]))
                if key in self.seen:
                    read = max(read, tokens)
                written = max(written, tokens)
                self.seen.add(key)
        created = written - read
        return {"input_tokens": total - written, "cache_creation_input_tokens": created,
                "cache_read_input_tokens": read,
                "cache_creation": {"ephemeral_5m_input_tokens": created, "ephemeral_1h_input_tokens": 0}}


def tool_schemas(body: Any) -> dict[str, Any]:
    return {t["name"]: t.get("input_schema") for t in body.get("tools") or []
            if t.get("type") in (None, "custom") and "name" in t}


def tool_results(body: Any) -> tuple[str, ...]:
    """The text of the ``tool_result`` blocks in the last message (when it is a user message)."""
    last = (body.get("messages") or [{}])[-1]
    if last.get("role") != "user":
        return ()
    return tuple(text_of(b.get("content")) for b in _blocks(last, "tool_result"))
