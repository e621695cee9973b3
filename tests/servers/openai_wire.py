"""The OpenAI Chat Completions streaming protocol (also Azure OpenAI's deployment paths).

``POST /v1/chat/completions`` with ``"stream": true`` answers ``chat.completion.chunk`` events: a
first chunk with the assistant role, content deltas, a chunk with ``finish_reason``, then (with
``stream_options.include_usage``) a usage chunk whose ``choices`` is empty, then ``data: [DONE]``.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Protocol, sse, word_count

CREATED = 1_700_000_000
ROLES = {"system", "developer", "user", "assistant"}


def _usage(body: Any) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


class OpenAIProtocol(Protocol):
    name = "openai"

    def route(self, method: str, path: str) -> str | None:
        if method == "POST" and (path == "/v1/chat/completions" or
                                 re.fullmatch(r"/openai/deployments/[^/]+/chat/completions", path)):
            return "stream"
        if method == "GET" and path in ("/v1/models", "/openai/models"):
            return "models"
        return None

    def authorised(self, headers: dict[str, str], query: str, key: str) -> bool:
        return headers.get("authorization") == f"Bearer {key}" or headers.get("api-key") == key

    def auth_error(self) -> tuple[int, dict[str, Any]]:
        return 401, {"error": {"message": "Incorrect API key provided: sk-test-****cdef. You can find your API "
                               "key at https://platform.openai.com/account/api-keys.",
                               "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}

    def error(self, status: int, message: str) -> dict[str, Any]:
        kinds = {400: ("invalid_request_error", None), 404: ("invalid_request_error", "model_not_found"),
                 429: ("requests", "rate_limit_exceeded")}
        kind, code = kinds.get(status, ("server_error", None))
        if "too long" in message:
            code = "context_length_exceeded"
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def model(self, path: str, body: Any) -> str:
        match = re.fullmatch(r"/openai/deployments/([^/]+)/chat/completions", path)
        return match.group(1) if match else str(body.get("model"))

    def validate(self, body: Any) -> str | None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty array"
        if body.get("stream") is not True:
            return "this server only streams"
        for i, message in enumerate(messages):
            if message.get("role") not in ROLES:
                return f"Invalid value for 'messages[{i}].role'"
            if not isinstance(message.get("content"), str):
                return f"'messages[{i}].content' must be a string"
            if message["role"] == "system" and i != 0:
                return "the system message must come first"
        options = body.get("stream_options")
        if options is not None and not isinstance(options.get("include_usage"), bool):
            return "'stream_options.include_usage' must be a boolean"
        return None

    def last_user_text(self, body: Any) -> str:
        users = [m.get("content", "") for m in (body or {}).get("messages", []) if m.get("role") == "user"]
        return str(users[-1]) if users else ""

    def turn_count(self, body: Any) -> int:
        return sum(m.get("role") in ("user", "assistant") for m in body.get("messages", []))

    def _chunk(self, model: str, choices: list[dict[str, Any]], usage: Any = None,
               with_usage: bool = False) -> bytes:
        data: dict[str, Any] = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": CREATED,
                                "model": model, "system_fingerprint": "fp_test", "choices": choices}
        if with_usage or usage is not None:
            data["usage"] = usage
        return sse(data)

    def start(self, model: str, body: Any) -> list[bytes]:
        choice = {"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None}, "logprobs": None,
                  "finish_reason": None}
        return [self._chunk(model, [choice], with_usage=_usage(body))]

    def delta(self, model: str, body: Any, text: str) -> bytes:
        choice = {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
        return self._chunk(model, [choice], with_usage=_usage(body))

    def end(self, model: str, body: Any, chunks: int) -> list[bytes]:
        events = [self._chunk(model, [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
                              with_usage=_usage(body))]
        if _usage(body):
            prompt = word_count(body.get("messages"))
            events.append(self._chunk(model, [], usage={"prompt_tokens": prompt, "completion_tokens": chunks,
                                                        "total_tokens": prompt + chunks}))
        events.append(b"data: [DONE]\n\n")
        return events

    def error_event(self) -> bytes:
        return sse({"error": {"message": "The server had an error while processing your request.",
                              "type": "server_error", "param": None, "code": None}})

    def models(self, names: list[str]) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": n, "object": "model", "created": CREATED, "owned_by": "test"}
                                           for n in names]}
