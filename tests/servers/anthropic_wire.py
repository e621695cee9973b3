"""The Anthropic Messages protocol.

``POST /v1/messages`` with ``"stream": true`` answers named SSE events: ``message_start`` (a Message
with empty content and the input usage), ``content_block_start``, ``content_block_delta`` (text
deltas), ``content_block_stop``, ``message_delta`` (stop reason and cumulative output usage) and
``message_stop``; ``ping`` may appear anywhere; errors arrive as ``event: error``. A tool call is a
``tool_use`` block (``content_block_start`` with ``id``, ``name``, ``input: {}``, then
``input_json_delta`` pieces of ``partial_json``) and the stop reason is ``tool_use``. Without
``stream`` the answer is one Message (``messages.parse`` uses it). With ``cache_control`` in the
request, usage adds ``cache_creation_input_tokens`` / ``cache_read_input_tokens``
(:class:`~tests.servers.anthropic_rules.PromptCache`). ``POST /v1/messages/count_tokens`` answers
``{"input_tokens": N}``, the uncached input a generation request with those messages reports. Request rules:
:mod:`tests.servers.anthropic_rules`; Message Batches: :mod:`tests.servers.anthropic_batch`.
"""

from __future__ import annotations

from typing import Any

from . import anthropic_batch, anthropic_rules
from .protocol import Answer, Protocol, Request, sse
from .replies import Ask, Reply, split, text_of

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 409: "invalid_request_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 503: "overloaded_error", 529: "overloaded_error"}


class AnthropicProtocol(Protocol):
    name = "anthropic"
    call_prefix = "toolu_"

    def __init__(self) -> None:
        self.cache = anthropic_rules.PromptCache()

    def route(self, method: str, path: str) -> str | None:
        if method == "POST" and path == "/v1/messages":
            return "stream"
        if method == "GET" and path == "/v1/models":
            return "models"
        if method == "POST" and path == "/v1/messages/count_tokens":
            return "count_tokens"
        return anthropic_batch.route(method, path)

    def authorised(self, headers: dict[str, str], query: str, key: str) -> bool:
        # the key comes as x-api-key (documented) or, from anthropic SDK 2.x, as a Bearer token
        key_ok = headers.get("x-api-key") == key or headers.get("authorization") == f"Bearer {key}"
        return key_ok and bool(headers.get("anthropic-version"))

    def auth_error(self) -> tuple[int, dict[str, Any]]:
        return 401, self.error(401, "invalid x-api-key")

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": str(message)},
                "request_id": "req_test"}

    def model(self, path: str, body: Any) -> str:
        return str(body.get("model"))

    def validate(self, body: Any) -> str | None:
        return anthropic_rules.validate(body)

    def last_user_text(self, body: Any) -> str:
        users = [m.get("content", "") for m in (body or {}).get("messages", []) if m.get("role") == "user"]
        return text_of(users[-1]) if users else ""

    def turn_count(self, body: Any) -> int:
        return len(body.get("messages", []))

    def streaming(self, path: str, body: Any) -> bool:
        return body.get("stream") is True

    def ask(self, model: str, body: Any) -> Ask:
        choice = body.get("tool_choice") or {}
        forced = "" if choice.get("type") == "any" else choice.get("name") if choice.get("type") == "tool" else None
        fmt = (body.get("output_config") or {}).get("format") or {}
        return Ask(model, self.turn_count(body), self.last_user_text(body),
                   results=anthropic_rules.tool_results(body), tools=anthropic_rules.tool_schemas(body),
                   forced=forced, schema=fmt.get("schema") if fmt.get("type") == "json_schema" else None)

    def _message(self, model: str, body: Any, content: list[Any], stop: str | None, output: int) -> dict[str, Any]:
        usage = {**self.cache.usage(model, body), "output_tokens": output}
        return {"id": "msg_test", "type": "message", "role": "assistant", "content": content, "model": model,
                "stop_reason": stop, "stop_sequence": None, "usage": usage}

    def start(self, model: str, body: Any) -> list[bytes]:
        return [sse({"type": "message_start", "message": self._message(model, body, [], None, 1)}, "message_start"),
                self._block_start(0, {"type": "text", "text": ""}), sse({"type": "ping"}, "ping")]

    def _block_start(self, index: int, block: dict[str, Any]) -> bytes:
        return sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")

    def _block_delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")

    def _block_stop(self, index: int) -> bytes:
        return sse({"type": "content_block_stop", "index": index}, "content_block_stop")

    def delta(self, model: str, body: Any, text: str) -> bytes:
        return self._block_delta(0, {"type": "text_delta", "text": text})

    def _finish(self, stop: str, output: int) -> list[bytes]:
        return [sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                     "usage": {"output_tokens": output}}, "message_delta"),
                sse({"type": "message_stop"}, "message_stop")]

    def end(self, model: str, body: Any, chunks: int) -> list[bytes]:
        return [self._block_stop(0), *self._finish("end_turn", chunks)]

    def events(self, model: str, body: Any, reply: Reply) -> tuple[list[bytes], list[bytes], list[bytes]]:
        if not reply.calls:
            return super().events(model, body, reply)
        message = self._message(model, body, [], None, 1)
        head = [sse({"type": "message_start", "message": message}, "message_start"), sse({"type": "ping"}, "ping")]
        pieces: list[bytes] = []
        if reply.text:
            pieces += [self._block_start(0, {"type": "text", "text": ""}),
                       *(self.delta(model, body, p) for p in split(reply.text)), self._block_stop(0)]
        for index, call in enumerate(reply.calls, start=1 if reply.text else 0):
            pieces.append(self._block_start(index, {"type": "tool_use", "id": call.id, "name": call.name,
                                                    "input": {}}))
            pieces += [self._block_delta(index, {"type": "input_json_delta", "partial_json": p})
                       for p in ["", *split(call.json())]]
            pieces.append(self._block_stop(index))
        return head, pieces, self._finish("tool_use", reply.tokens())

    def response(self, model: str, body: Any, reply: Reply) -> dict[str, Any]:
        content: list[Any] = [{"type": "text", "text": reply.text}] if reply.text or not reply.calls else []
        content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.args()} for c in reply.calls]
        return self._message(model, body, content, "tool_use" if reply.calls else "end_turn", reply.tokens())

    def error_event(self) -> bytes:
        return sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")

    def malformed(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n'

    def models(self, names: list[str]) -> dict[str, Any]:
        data = [{"type": "model", "id": n, "display_name": n, "created_at": "2025-09-29T00:00:00Z"} for n in names]
        return {"data": data, "has_more": False, "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None}

    def handle(self, route: str, request: Request) -> Answer:
        if route == "count_tokens":  # the input tokens a request would report, without caching
            return Answer(200, {"input_tokens": anthropic_rules.prompt_tokens(request.body or {})})
        return anthropic_batch.handle(self, route, request)
