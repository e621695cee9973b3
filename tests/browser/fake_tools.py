"""The ``analyst`` model of the fake OpenAI server: a scripted model that calls tools, streamed as the
OpenAI API streams them (``delta.tool_calls`` with an id and name first, then argument pieces by
``index``, then ``finish_reason: "tool_calls"``).

What it does with the last message of the request:

- tool results (``role: "tool"``): answers with what the tools returned, e.g. "run_python answered: 3";
- "how many rows of DF have COL above N" (with ``run_python`` offered): calls
  ``run_python(code='int((DF["COL"] > N).sum())')``;
- ``NAME({...json...})`` written in the message (one or more, each a tool offered): calls each (parallel
  calls when several);
- anything else: ``Echo: <the message>``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

QUESTION = re.compile(r"how many rows of (\w+) have (\w+) above ([\d.]+)", re.IGNORECASE)
DIRECTIVE = re.compile(r"\b([A-Za-z_][\w-]*)\((\{.*?\})\)")


def analyst_events(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream's chunks (without ``[DONE]``) for the request ``body``."""
    messages = body.get("messages", [])
    offered = {t["function"]["name"] for t in body.get("tools", []) if t.get("type") == "function"}
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return _text(_answer(messages))
    text = _text_of(last)
    calls: list[tuple[str, dict[str, Any]]] = []
    question = QUESTION.search(text)
    if question and "run_python" in offered:
        frame, column, above = question.groups()
        calls.append(("run_python", {"code": f"int(({frame}[{column!r}] > {above}).sum())"}))
    for name, raw in DIRECTIVE.findall(text):
        if name in offered:
            calls.append((name, json.loads(raw)))
    if calls:
        return _calls(calls)
    return _text(f"Echo: {text[:200]}")


def _answer(messages: list[dict[str, Any]]) -> str:
    names = {c["id"]: c["function"]["name"] for m in messages for c in m.get("tool_calls") or []}
    results = []
    for m in reversed(messages):
        if m.get("role") != "tool":
            break
        results.insert(0, f"{names.get(m.get('tool_call_id'), 'the tool')} answered: {_text_of(m)[:300]}")
    return "\n\n".join(results)


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()), "model": "analyst",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _usage(pieces: int) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()), "model": "analyst",
            "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": pieces, "total_tokens": 5 + pieces}}


def _text(text: str) -> list[dict[str, Any]]:
    pieces = [text[i:i + 24] for i in range(0, len(text), 24)] or [""]
    return [*(_chunk({"content": p}) for p in pieces), _chunk({}, "stop"), _usage(len(pieces))]


def _calls(calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    events = []
    for index, (name, arguments) in enumerate(calls):
        raw = json.dumps(arguments)
        half = len(raw) // 2
        events.append(_chunk({"tool_calls": [{"index": index, "id": f"call_{int(time.time() * 1000)}_{index}",
                                              "type": "function", "function": {"name": name, "arguments": ""}}]}))
        for piece in (raw[:half], raw[half:]):
            events.append(_chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    return [*events, _chunk({}, "tool_calls"), _usage(len(calls))]
