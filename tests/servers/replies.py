"""What a fake server answers to a generation request: text, tool calls or JSON, decided deterministically.

Scripting (``server`` is a :class:`~tests.servers.base.ProviderServer`)::

    server.script("Plain text.")                                  # the next reply is this text
    server.script(Call("get_weather", {"city": "Paris"}))         # ... one tool call
    server.script([Call("a", {"x": 1}), Call("b", {"y": 2})])     # ... two parallel calls in one reply
    server.script(Reply(text="Let me look.", calls=(Call("a"),)))  # ... text, then a call
    server.script(INVALID_JSON, "ok")                             # two replies: broken JSON once, then text

Scripted replies are used in order by the next generation requests (streamed or not; batch requests
never use them). With nothing scripted, the reply follows the request, first match wins:

1. ``[[call:NAME {"json": "args"}]]`` in the last user message's text (when that message carries no tool
   results): a call of NAME with those arguments; several directives make parallel calls.
2. A ``tool_choice`` that forces a tool (OpenAI ``"required"`` / a named function, Anthropic ``any`` /
   ``tool``, Gemini ``toolConfig.functionCallingConfig.mode`` ``ANY``): a call of the named (or first)
   tool, its arguments generated from the tool's parameter schema (:func:`tests.servers.schema.instance`).
3. A structured-output request: JSON generated from the schema (``{"answer": ...}`` for OpenAI's
   ``json_object``).
4. The last message carries tool results: ``"{model} got tool results: {result text}; {result text}"``.
5. Otherwise :func:`reply_text`: ``"{model} heard {turns} turn(s); last: {last user text[:40]}"``.

Scripts and directives are obeyed even under ``tool_choice: none`` (a test that scripts a call wants it);
forcing applies whenever the request forces, as the real APIs do. Call ids: OpenAI ``call_001``,
``call_002``..., Anthropic ``toolu_001``... (numbered per server, in reply order); Gemini sends no id
unless the :class:`Call` names one. Each generation request's reply is kept as ``Recorded.answer``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .schema import instance

CHUNK_CHARS = 6
DIRECTIVE = re.compile(r"\[\[call:([A-Za-z0-9_.-]+)(?:\s+(\{.*?\}))?\]\]", re.S)


@dataclass(frozen=True)
class Call:
    """One tool call. ``arguments`` as a dict is sent as JSON; as a str it is sent verbatim (may be broken)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)

    def args(self) -> Any:
        """The arguments as an object (Gemini sends objects, not JSON text)."""
        if isinstance(self.arguments, dict):
            return self.arguments
        try:
            return json.loads(self.arguments)
        except ValueError:
            return {"_raw": self.arguments}


@dataclass(frozen=True)
class Reply:
    """One reply: text (may be empty) followed by tool calls (may be none)."""

    text: str = ""
    calls: tuple[Call, ...] = ()

    def tokens(self) -> int:
        """Output tokens reported in usage: the number of pieces the reply streams in."""
        return len(split(self.text)) + sum(len(split(c.json())) for c in self.calls)


#: A reply whose text is not valid JSON: script it to test a structured-output repair round.
INVALID_JSON = Reply(text='{"answer": "unterminated')


@dataclass(frozen=True)
class Ask:
    """The parts of a request that decide the reply, read by each protocol from its own wire format."""

    model: str
    turns: int
    last_text: str  # the last user message's text
    results: tuple[str, ...] = ()  # text of each tool result in the last message
    tools: dict[str, Any] = field(default_factory=dict)  # tool name -> parameters schema
    forced: str | None = None  # the tool tool_choice forces ("" = any: the first)
    schema: Any = None  # the structured-output JSON schema
    json_mode: bool = False  # JSON without a schema (OpenAI json_object)


def as_reply(item: str | Call | Reply | Iterable[Call]) -> Reply:
    if isinstance(item, Reply):
        return item
    if isinstance(item, str):
        return Reply(text=item)
    if isinstance(item, Call):
        return Reply(calls=(item,))
    return Reply(calls=tuple(item))


def reply_text(model: str, turns: int, last: str) -> str:
    """The deterministic reply to a plain request (split into chunks of CHUNK_CHARS characters)."""
    return f"{model} heard {turns} turn(s); last: {last[:40]}"


def split(text: str) -> list[str]:
    return [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]


def directives(text: str) -> list[Call]:
    """The ``[[call:NAME {...}]]`` directives in ``text``, as calls (bad JSON is passed on verbatim)."""
    calls = []
    for name, args in DIRECTIVE.findall(text):
        try:
            calls.append(Call(name, json.loads(args) if args else {}))
        except ValueError:
            calls.append(Call(name, args))
    return calls


def decide(ask: Ask) -> Reply:
    """The reply to an unscripted request (rules 1-5 of the module docstring)."""
    if not ask.results and (calls := directives(ask.last_text)):
        return Reply(calls=tuple(calls))
    if ask.forced is not None and ask.tools:
        name = ask.forced or next(iter(ask.tools))
        return Reply(calls=(Call(name, instance(ask.tools.get(name)) or {}),))
    if ask.schema is not None:
        return Reply(text=json.dumps(instance(ask.schema)))
    if ask.json_mode:
        return Reply(text=json.dumps({"answer": reply_text(ask.model, ask.turns, ask.last_text)}))
    if ask.results:
        return Reply(text=f"{ask.model} got tool results: " + "; ".join(ask.results))
    return Reply(text=reply_text(ask.model, ask.turns, ask.last_text))


def text_of(content: Any) -> str:
    """The text in a content value: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""
