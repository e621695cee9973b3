"""The Anthropic Messages streaming protocol.

``POST /v1/messages`` with ``"stream": true`` answers named SSE events: ``message_start`` (a Message
with empty content and the input usage), ``content_block_start``, ``content_block_delta`` (text
deltas), ``content_block_stop``, ``message_delta`` (stop reason and cumulative output usage) and
``message_stop``; ``ping`` may appear anywhere; errors arrive as ``event: error``.
The request rules checked are the API's: ``max_tokens`` required, messages start with ``user`` and
alternate, text is not blank, ``system`` is a top-level field, and a final assistant turn has no
trailing whitespace.
"""

from __future__ import annotations

from typing import Any

from .base import Protocol, sse, word_count

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
               503: "overloaded_error", 529: "overloaded_error"}


class AnthropicProtocol(Protocol):
    name = "anthropic"

    def route(self, method: str, path: str) -> str | None:
        if method == "POST" and path == "/v1/messages":
            return "stream"
        if method == "GET" and path == "/v1/models":
            return "models"
        return None

    def authorised(self, headers: dict[str, str], query: str, key: str) -> bool:
        # the key comes as x-api-key (documented) or, from anthropic SDK 2.x, as a Bearer token
        key_ok = headers.get("x-api-key") == key or headers.get("authorization") == f"Bearer {key}"
        return key_ok and bool(headers.get("anthropic-version"))

    def auth_error(self) -> tuple[int, dict[str, Any]]:
        return 401, self.error(401, "invalid x-api-key")

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
                "request_id": "req_test"}

    def model(self, path: str, body: Any) -> str:
        return str(body.get("model"))

    def validate(self, body: Any) -> str | None:
        if not isinstance(body.get("max_tokens"), int):
            return "max_tokens: Field required"
        if body.get("stream") is not True:
            return "this server only streams"
        system = body.get("system")
        if system is not None and not (isinstance(system, str) and system.strip()):
            return "system: text content blocks must contain non-whitespace text"
        temperature = body.get("temperature")
        if temperature is not None and not 0 <= temperature <= 1:
            return "temperature: range: 0..1"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        for i, message in enumerate(messages):
            role, content = message.get("role"), message.get("content")
            if role not in ("user", "assistant"):
                return f"messages.{i}.role: Input should be 'user' or 'assistant'"
            if i == 0 and role != "user":
                return "messages: first message must use the \"user\" role"
            if i > 0 and role == messages[i - 1].get("role"):
                return "messages: roles must alternate between \"user\" and \"assistant\""
            if not isinstance(content, str) or not content.strip():
                return f"messages.{i}: text content blocks must contain non-whitespace text"
        last = messages[-1]
        if last["role"] == "assistant" and last["content"] != last["content"].rstrip():
            return "messages: final assistant content cannot end with trailing whitespace"
        return None

    def last_user_text(self, body: Any) -> str:
        users = [m.get("content", "") for m in (body or {}).get("messages", []) if m.get("role") == "user"]
        return str(users[-1]) if users else ""

    def turn_count(self, body: Any) -> int:
        return len(body.get("messages", []))

    def start(self, model: str, body: Any) -> list[bytes]:
        prompt = word_count([body.get("system"), body.get("messages")])
        message = {"id": "msg_test", "type": "message", "role": "assistant", "content": [], "model": model,
                   "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": prompt, "output_tokens": 1}}
        return [sse({"type": "message_start", "message": message}, "message_start"),
                sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                    "content_block_start"),
                sse({"type": "ping"}, "ping")]

    def delta(self, model: str, body: Any, text: str) -> bytes:
        return sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
                   "content_block_delta")

    def end(self, model: str, body: Any, chunks: int) -> list[bytes]:
        return [sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                     "usage": {"output_tokens": chunks}}, "message_delta"),
                sse({"type": "message_stop"}, "message_stop")]

    def error_event(self) -> bytes:
        return sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")

    def malformed(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n'

    def models(self, names: list[str]) -> dict[str, Any]:
        data = [{"type": "model", "id": n, "display_name": n, "created_at": "2025-09-29T00:00:00Z"} for n in names]
        return {"data": data, "has_more": False, "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None}
