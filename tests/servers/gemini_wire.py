"""The Gemini API generateContent protocol.

``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` (or ``/v1/...``, the default API
version of google-genai 3.x) answers SSE ``data:`` lines, each a
GenerateContentResponse: ``candidates[0].content`` (role ``model``, text ``parts``), ``usageMetadata``
and ``modelVersion``; the last one carries ``finishReason``. There is no ``[DONE]``. A function call
comes whole, as a ``functionCall {name, args}`` part (with an ``id`` only when scripted with one); the
chunk of the last call carries ``finishReason: STOP``. ``:generateContent`` answers one
GenerateContentResponse. The key comes in the ``x-goog-api-key`` header (or ``?key=``); a bad key is
HTTP 400 ``INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``. ``:countTokens`` answers ``{"totalTokens": N}``,
the prompt tokens a generation request with those contents reports. Request rules:
:mod:`tests.servers.gemini_rules`; batch mode: :mod:`tests.servers.gemini_batch`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from . import gemini_batch, gemini_rules
from .protocol import Answer, Protocol, Request, sse, word_count
from .replies import Ask, Reply, split

STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
            409: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
GENERATE_PATH = re.compile(r"/v1(?:beta)?/models/([^/:]+):(streamGenerateContent|generateContent)")
COUNT_PATH = re.compile(r"/v1(?:beta)?/models/([^/:]+):countTokens")


class GeminiProtocol(Protocol):
    name = "gemini"

    def __init__(self, implicit_cache: bool = False) -> None:
        self.cache = gemini_rules.PrefixCache() if implicit_cache else None

    def route(self, method: str, path: str) -> str | None:
        if method == "POST" and GENERATE_PATH.fullmatch(path):
            return "stream"
        if method == "GET" and path in ("/v1beta/models", "/v1/models"):
            return "models"
        if method == "POST" and COUNT_PATH.fullmatch(path):
            return "count_tokens"
        return gemini_batch.route(method, path)

    def authorised(self, headers: dict[str, str], query: str, key: str) -> bool:
        return headers.get("x-goog-api-key") == key or parse_qs(query).get("key") == [key]

    def auth_error(self) -> tuple[int, dict[str, Any]]:
        return 400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                               "status": "INVALID_ARGUMENT",
                               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                            "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                                            "metadata": {"service": "generativelanguage.googleapis.com"}}]}}

    def error(self, status: int, message: str) -> dict[str, Any]:
        if "too long" in message:
            message = "The input token count (250000) exceeds the maximum number of tokens allowed (200000)."
        error: dict[str, Any] = {"code": status, "message": str(message), "status": STATUSES.get(status, "UNKNOWN")}
        if status == 429:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}]
        return {"error": error}

    def model(self, path: str, body: Any) -> str:
        match = GENERATE_PATH.fullmatch(path)
        return match.group(1) if match else ""

    def normalize(self, body: Any) -> Any:
        return gemini_rules.normalize(body)

    def validate(self, body: Any) -> str | None:
        return gemini_rules.validate(body)

    def last_user_text(self, body: Any) -> str:
        users = [c for c in (body or {}).get("contents", []) if c.get("role") == "user"]
        return "".join(p.get("text", "") for p in users[-1].get("parts", [])) if users else ""

    def turn_count(self, body: Any) -> int:
        return len(body.get("contents", []))

    def streaming(self, path: str, body: Any) -> bool:
        return path.endswith(":streamGenerateContent")

    def ask(self, model: str, body: Any) -> Ask:
        schema, json_mode = gemini_rules.output_schema(body)
        return Ask(model, self.turn_count(body), self.last_user_text(body),
                   results=gemini_rules.function_results(body), tools=gemini_rules.functions(body),
                   forced=gemini_rules.forced_function(body), schema=schema, json_mode=json_mode)

    def _data(self, model: str, parts: list[dict[str, Any]] | None, body: Any, finish: str | None = None,
              output: int | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts or [], "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        prompt = word_count([body.get("systemInstruction"), body.get("contents")])
        if body.get("tools"):
            prompt += word_count(body["tools"])
        usage: dict[str, Any] = {"promptTokenCount": prompt, "totalTokenCount": prompt + (output or 0),
                                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
        if output is not None:
            usage["candidatesTokenCount"] = output
            cached = self.cache.cached_tokens(model, body, prompt) if self.cache else 0
            if cached:
                usage["cachedContentTokenCount"] = cached
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": "resp-test"}

    def _response(self, model: str, parts: list[dict[str, Any]] | None, body: Any, finish: str | None = None,
                  output: int | None = None) -> bytes:
        return sse(self._data(model, parts, body, finish, output)).replace(b"\n\n", b"\r\n\r\n")

    def start(self, model: str, body: Any) -> list[bytes]:
        return []

    def delta(self, model: str, body: Any, text: str) -> bytes:
        return self._response(model, [{"text": text}], body)

    def end(self, model: str, body: Any, chunks: int) -> list[bytes]:
        return [self._response(model, [{"text": ""}], body, finish="STOP", output=chunks)]

    def _call_part(self, call: Any) -> dict[str, Any]:
        part = {"name": call.name, "args": call.args()}
        return {"functionCall": {**({"id": call.id} if call.id else {}), **part}}

    def events(self, model: str, body: Any, reply: Reply) -> tuple[list[bytes], list[bytes], list[bytes]]:
        if not reply.calls:
            return super().events(model, body, reply)
        pieces = [self.delta(model, body, p) for p in split(reply.text)]
        *first, last = reply.calls
        pieces += [self._response(model, [self._call_part(c)], body) for c in first]
        pieces.append(self._response(model, [self._call_part(last)], body, finish="STOP", output=reply.tokens()))
        return [], pieces, []

    def response(self, model: str, body: Any, reply: Reply) -> dict[str, Any]:
        parts = [{"text": reply.text}] if reply.text or not reply.calls else []
        parts += [self._call_part(c) for c in reply.calls]
        return self._data(model, parts, body, finish="STOP", output=reply.tokens())

    def error_event(self) -> bytes:
        return sse({"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                              "status": "UNAVAILABLE"}})

    def malformed(self) -> bytes:
        return b'data: {"candidates": [{"content": {"parts": [{"text": "oo\r\n\r\n'

    def models(self, names: list[str]) -> dict[str, Any]:
        return {"models": [{"name": f"models/{n}", "version": "001", "displayName": n,
                            "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
                            "supportedGenerationMethods": ["generateContent", "countTokens"]} for n in names]}

    def handle(self, route: str, request: Request) -> Answer:
        if route == "count_tokens":  # the prompt tokens a generation request with these contents reports
            body = gemini_rules.normalize(request.body or {})
            return Answer(200, {"totalTokens": word_count([body.get("systemInstruction"), body.get("contents")])})
        return gemini_batch.handle(self, route, request)
