"""The Gemini API streaming protocol.

``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` (or ``/v1/...``, the default API
version of google-genai 3.x) answers SSE ``data:`` lines, each a
GenerateContentResponse: ``candidates[0].content`` (role ``model``, text ``parts``), ``usageMetadata``
and ``modelVersion``; the last one carries ``finishReason``. There is no ``[DONE]``. The key comes in
the ``x-goog-api-key`` header (or ``?key=``); a bad key is HTTP 400 ``INVALID_ARGUMENT`` with reason
``API_KEY_INVALID``. Requests are checked for the rules our translation promises: ``contents`` start
with ``user``, alternate ``user`` / ``model``, and carry non-blank text parts.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from .base import Protocol, sse, word_count

STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
STREAM_PATH = re.compile(r"/v1(?:beta)?/models/([^/:]+):streamGenerateContent")


class GeminiProtocol(Protocol):
    name = "gemini"

    def route(self, method: str, path: str) -> str | None:
        if method == "POST" and STREAM_PATH.fullmatch(path):
            return "stream"
        if method == "GET" and path in ("/v1beta/models", "/v1/models"):
            return "models"
        return None

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
        error: dict[str, Any] = {"code": status, "message": message, "status": STATUSES.get(status, "UNKNOWN")}
        if status == 429:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}]
        return {"error": error}

    def model(self, path: str, body: Any) -> str:
        match = STREAM_PATH.fullmatch(path)
        return match.group(1) if match else ""

    def validate(self, body: Any) -> str | None:
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
            texts = [p.get("text", "") for p in content.get("parts", [])]
            if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                return f"* GenerateContentRequest.contents[{i}].parts: must contain text"
        system = body.get("systemInstruction")
        if system is not None and not any(p.get("text", "").strip() for p in system.get("parts", [])):
            return "* GenerateContentRequest.system_instruction: must contain text"
        return None

    def last_user_text(self, body: Any) -> str:
        users = [c for c in (body or {}).get("contents", []) if c.get("role") == "user"]
        return "".join(p.get("text", "") for p in users[-1].get("parts", [])) if users else ""

    def turn_count(self, body: Any) -> int:
        return len(body.get("contents", []))

    def _response(self, model: str, parts: list[dict[str, Any]] | None, body: Any, finish: str | None = None,
                  output: int | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"parts": parts or [], "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        prompt = word_count([body.get("systemInstruction"), body.get("contents")])
        usage: dict[str, Any] = {"promptTokenCount": prompt, "totalTokenCount": prompt + (output or 0),
                                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
        if output is not None:
            usage["candidatesTokenCount"] = output
        data = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": "resp-test"}
        return sse(data).replace(b"\n\n", b"\r\n\r\n")

    def start(self, model: str, body: Any) -> list[bytes]:
        return []

    def delta(self, model: str, body: Any, text: str) -> bytes:
        return self._response(model, [{"text": text}], body)

    def end(self, model: str, body: Any, chunks: int) -> list[bytes]:
        return [self._response(model, [{"text": ""}], body, finish="STOP", output=chunks)]

    def error_event(self) -> bytes:
        return sse({"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                              "status": "UNAVAILABLE"}})

    def malformed(self) -> bytes:
        return b'data: {"candidates": [{"content": {"parts": [{"text": "oo\r\n\r\n'

    def models(self, names: list[str]) -> dict[str, Any]:
        return {"models": [{"name": f"models/{n}", "version": "001", "displayName": n,
                            "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
                            "supportedGenerationMethods": ["generateContent", "countTokens"]} for n in names]}
