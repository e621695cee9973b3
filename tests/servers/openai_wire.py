"""The OpenAI Chat Completions protocol (also Azure OpenAI's deployment paths).

``POST /v1/chat/completions`` with ``"stream": true`` answers ``chat.completion.chunk`` events: a
first chunk with the assistant role, content deltas, a chunk with ``finish_reason``, then (with
``stream_options.include_usage``) a usage chunk whose ``choices`` is empty, then ``data: [DONE]``.
Tool calls stream as ``delta.tool_calls``: per call a first piece ``{index, id, type: "function",
function: {name, arguments: ""}}``, then the arguments in pieces by ``index``; the finish reason is then
``tool_calls``. Without ``stream`` the answer is one ``chat.completion`` object (the SDK's
``chat.completions.parse`` uses it). With ``OpenAIProtocol(implicit_cache=True)`` usage reports
``prompt_tokens_details.cached_tokens`` (:class:`~tests.servers.openai_rules.PrefixCache`). Request rules:
:mod:`tests.servers.openai_rules`; the Files and Batch API: :mod:`tests.servers.openai_batch`.
"""

from __future__ import annotations

import re
from typing import Any

from . import openai_batch, openai_rules
from .protocol import Answer, Protocol, Request, sse, word_count
from .replies import Ask, Reply, split, text_of

CREATED = 1_700_000_000
DEPLOYMENT = re.compile(r"/openai/deployments/([^/]+)/chat/completions")


def _usage(body: Any) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


class OpenAIProtocol(Protocol):
    name = "openai"
    call_prefix = "call_"

    def __init__(self, implicit_cache: bool = False) -> None:
        self.cache = openai_rules.PrefixCache() if implicit_cache else None

    def route(self, method: str, path: str) -> str | None:
        if method == "POST" and (path == "/v1/chat/completions" or DEPLOYMENT.fullmatch(path)):
            return "stream"
        if method == "GET" and path in ("/v1/models", "/openai/models"):
            return "models"
        return openai_batch.route(method, path)

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
        return {"error": {"message": str(message), "type": kind, "param": getattr(message, "param", None),
                          "code": code}}

    def model(self, path: str, body: Any) -> str:
        match = DEPLOYMENT.fullmatch(path)
        return match.group(1) if match else str(body.get("model"))

    def validate(self, body: Any) -> str | None:
        return openai_rules.validate(body)

    def last_user_text(self, body: Any) -> str:
        users = [m.get("content", "") for m in (body or {}).get("messages", []) if m.get("role") == "user"]
        return text_of(users[-1]) if users else ""

    def turn_count(self, body: Any) -> int:
        return sum(m.get("role") in ("user", "assistant") for m in body.get("messages", []))

    def streaming(self, path: str, body: Any) -> bool:
        return body.get("stream") is True

    def ask(self, model: str, body: Any) -> Ask:
        tools = {(t.get("function") or {}).get("name"): (t.get("function") or {}).get("parameters")
                 for t in body.get("tools") or []}
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema", {}) if fmt.get("type") == "json_schema" else None
        return Ask(model, self.turn_count(body), self.last_user_text(body),
                   results=openai_rules.tool_results(body["messages"]), tools=tools,
                   forced=openai_rules.forced_tool(body), schema=schema, json_mode=fmt.get("type") == "json_object")

    def _chunk(self, model: str, choices: list[dict[str, Any]], usage: Any = None,
               with_usage: bool = False) -> bytes:
        data: dict[str, Any] = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": CREATED,
                                "model": model, "system_fingerprint": "fp_test", "choices": choices}
        if with_usage or usage is not None:
            data["usage"] = usage
        return sse(data)

    def _choice(self, model: str, body: Any, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._chunk(model, [choice], with_usage=_usage(body))

    def _usage_numbers(self, body: Any, output: int) -> dict[str, Any]:
        prompt = word_count(body.get("messages")) + (word_count(body["tools"]) if body.get("tools") else 0)
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}
        if self.cache is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cache.cached_tokens(body, prompt)}
        return usage

    def start(self, model: str, body: Any) -> list[bytes]:
        return [self._choice(model, body, {"role": "assistant", "content": "", "refusal": None})]

    def delta(self, model: str, body: Any, text: str) -> bytes:
        return self._choice(model, body, {"content": text})

    def end(self, model: str, body: Any, chunks: int, finish: str = "stop") -> list[bytes]:
        events = [self._choice(model, body, {}, finish)]
        if _usage(body):
            events.append(self._chunk(model, [], usage=self._usage_numbers(body, chunks)))
        events.append(b"data: [DONE]\n\n")
        return events

    def events(self, model: str, body: Any, reply: Reply) -> tuple[list[bytes], list[bytes], list[bytes]]:
        if not reply.calls:
            return super().events(model, body, reply)
        head = [self._choice(model, body, {"role": "assistant", "content": "" if reply.text else None,
                                           "refusal": None})]
        pieces = [self.delta(model, body, p) for p in split(reply.text)]
        for index, call in enumerate(reply.calls):
            first = {"index": index, "id": call.id, "type": "function",
                     "function": {"name": call.name, "arguments": ""}}
            pieces.append(self._choice(model, body, {"tool_calls": [first]}))
            pieces += [self._choice(model, body, {"tool_calls": [{"index": index, "function": {"arguments": p}}]})
                       for p in split(call.json())]
        return head, pieces, self.end(model, body, reply.tokens(), "tool_calls")

    def response(self, model: str, body: Any, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text if reply.text or not reply.calls
                                   else None, "refusal": None, "annotations": []}
        if reply.calls:
            message["tool_calls"] = [{"id": c.id, "type": "function",
                                      "function": {"name": c.name, "arguments": c.json()}} for c in reply.calls]
        choice = {"index": 0, "message": message, "logprobs": None,
                  "finish_reason": "tool_calls" if reply.calls else "stop"}
        return {"id": "chatcmpl-test", "object": "chat.completion", "created": CREATED, "model": model,
                "choices": [choice], "usage": self._usage_numbers(body, reply.tokens()),
                "service_tier": "default", "system_fingerprint": "fp_test"}

    def error_event(self) -> bytes:
        return sse({"error": {"message": "The server had an error while processing your request.",
                              "type": "server_error", "param": None, "code": None}})

    def models(self, names: list[str]) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": n, "object": "model", "created": CREATED, "owned_by": "test"}
                                           for n in names]}

    def handle(self, route: str, request: Request) -> Answer:
        return openai_batch.handle(self, route, request)
