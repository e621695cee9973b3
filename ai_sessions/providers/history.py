"""The provider-neutral side of history translation (S5): rules every API format builds on.

A :class:`~ai_sessions.providers.base.ChatRequest` holds an optional system prompt and turns of role
``user``, ``assistant`` or ``tool`` (tool results), each a tuple of typed parts. Each API format lives in
its own module (``openai_format``, ``anthropic_format``, ``gemini_format``) and uses these helpers:

* :func:`clean_turns` drops turns with nothing to send and checks roles;
* :func:`paired_tool_calls` makes every tool call answered and every result called (a stopped reply can
  leave a call without a result; the APIs reject both);
* :func:`alternating` merges neighbours of the same role for APIs that require alternation;
* :func:`note_for` turns a part the model cannot take into visible text (never dropped silently).

Pure functions over plain values: no SDK is imported here. ``docs/architecture.md`` has the table of
what maps to what per provider.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ..parts import FilePart, ImagePart, Part, StructuredPart, TextPart, ToolCallPart, ToolResultPart
from .base import Capabilities, ChatRequest, ChatTurn

#: Stands in for a user turn an API requires where the history has none.
CONTINUE_TEXT = "(continue)"
ROLES = ("user", "assistant", "tool")
#: Text files up to this size go to the model as text; larger ones are cut with a note.
TEXT_FILE_CHARS = 100_000
NOT_RUN = "not run: the reply ended before this call's result"


def system_of(request: ChatRequest) -> str | None:
    return request.system if request.system and request.system.strip() else None


def _has_content(part: Part) -> bool:
    return not (isinstance(part, TextPart) and not part.text.strip())


def clean_turns(turns: Iterable[ChatTurn]) -> list[ChatTurn]:
    """Turns with something to send (an empty or whitespace-only text part carries nothing for any API);
    a structured result is sent once: as the reply's text when the turn holds it, else as its JSON."""
    cleaned = []
    for turn in turns:
        if turn.role not in ROLES:
            raise ValueError(f"unknown role {turn.role!r} in history (expected user, assistant or tool)")
        parts = tuple(p for p in turn.parts if _has_content(p))
        if any(isinstance(p, TextPart) for p in parts):  # a structured reply's text already is its JSON
            parts = tuple(p for p in parts if not isinstance(p, StructuredPart))
        if parts:
            cleaned.append(replace(turn, parts=parts))
    return cleaned


def paired_tool_calls(turns: list[ChatTurn]) -> list[ChatTurn]:
    """Every tool call followed by its result (an error result "not run" where none came) and no result
    without its call (such results become text), as every API requires."""
    called: set[str] = set()
    answered = {p.call_id for t in turns if t.role == "tool" for p in t.parts if isinstance(p, ToolResultPart)}
    out: list[ChatTurn] = []
    pending: list[ToolCallPart] = []

    def close_pending() -> None:
        if pending:
            out.append(ChatTurn("tool", tuple(ToolResultPart(c.id, (TextPart(NOT_RUN),), True, c.name)
                                              for c in pending)))
            pending.clear()

    for turn in turns:
        if turn.role == "tool":
            parts: list[Part] = []
            for part in turn.parts:
                if isinstance(part, ToolResultPart) and part.call_id in called:
                    parts.append(part)
                    pending[:] = [c for c in pending if c.id != part.call_id]
                elif isinstance(part, ToolResultPart):
                    parts.append(TextPart(f"[result of an unknown tool call {part.name or part.call_id}]: "
                                          f"{part.text}"))
                else:
                    parts.append(part)
            extra = tuple(ToolResultPart(c.id, (TextPart(NOT_RUN),), True, c.name) for c in pending)
            pending.clear()
            out.append(ChatTurn("tool", (*parts, *extra)))
            continue
        close_pending()
        if turn.role == "assistant":
            for part in turn.parts:
                if isinstance(part, ToolCallPart):
                    called.add(part.id)
                    if part.id not in answered:
                        pending.append(part)
        out.append(turn)
    close_pending()
    return out


def alternating(turns: list[ChatTurn], *, user_roles: tuple[str, ...] = ("user", "tool")) -> list[ChatTurn]:
    """Turns that start with ``user``, alternate user / assistant and end with ``user``, for APIs that
    require it (tool results count as the user side). Neighbours of one side are merged (results first,
    as APIs want tool results before text); a placeholder user turn is added where the history starts or
    ends with the assistant. Trailing whitespace is trimmed from assistant text (Anthropic rejects it)."""
    merged: list[ChatTurn] = []
    for turn in turns:
        side = "user" if turn.role in user_roles else "assistant"
        parts = turn.parts
        if side == "assistant":
            parts = tuple(TextPart(p.text.rstrip()) if isinstance(p, TextPart) else p for p in parts)
            parts = tuple(p for p in parts if _has_content(p))
            if not parts:
                continue
        if merged and merged[-1].role == side:
            previous = merged[-1].parts
            if side == "user":
                results = [p for p in (*previous, *parts) if isinstance(p, ToolResultPart)]
                rest = _join_text([p for p in (*previous, *parts) if not isinstance(p, ToolResultPart)])
                merged[-1] = ChatTurn(side, (*results, *rest))
            else:
                merged[-1] = ChatTurn(side, tuple(_join_text([*previous, *parts])))
        else:
            merged.append(ChatTurn(side, parts))
    if not merged or merged[0].role != "user":
        merged.insert(0, ChatTurn("user", (TextPart(CONTINUE_TEXT),)))
    if merged[-1].role != "user":
        merged.append(ChatTurn("user", (TextPart(CONTINUE_TEXT),)))
    return merged


def _join_text(parts: list[Part]) -> list[Part]:
    """Neighbouring text parts joined with a blank line (two prompts around a failed reply read as two)."""
    out: list[Part] = []
    for part in parts:
        if isinstance(part, TextPart) and out and isinstance(out[-1], TextPart):
            out[-1] = TextPart(f"{out[-1].text}\n\n{part.text}")
        else:
            out.append(part)
    return out


def ends_with_user(turns: list[ChatTurn]) -> list[ChatTurn]:
    """``turns`` ending with a user turn or tool results (so the model is asked to reply)."""
    if not turns or turns[-1].role == "assistant":
        return [*turns, ChatTurn("user", (TextPart(CONTINUE_TEXT),))]
    return turns


# -- parts a model cannot take --------------------------------------------------------------------------
def text_file(part: FilePart) -> str | None:
    """A file's text (cut with a note past :data:`TEXT_FILE_CHARS`), or None if it is not text."""
    if part.data is None or not (part.media_type.startswith("text/") or part.media_type in (
            "application/json", "application/xml", "application/x-yaml", "application/csv")):
        return None
    try:
        text = part.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) > TEXT_FILE_CHARS:
        text = text[:TEXT_FILE_CHARS] + f"\n[… cut: {len(text) - TEXT_FILE_CHARS:,} more characters]"
    return f"[file {part.name}]\n{text}"


def note_for(part: Part, why: str) -> TextPart:
    """Visible text standing in for ``part``, which the model cannot take (``why`` says so)."""
    if isinstance(part, ImagePart):
        return TextPart(f"[an image ({part.media_type}, {_size(part.size)}) was attached here: {why}]")
    if isinstance(part, FilePart):
        return TextPart(f"[a file {part.name} ({part.media_type}, {_size(part.size)}) was attached here: {why}]")
    if isinstance(part, ToolCallPart):
        return TextPart(f"[called tool {part.name} with {json.dumps(dict(part.arguments), ensure_ascii=False)}]")
    if isinstance(part, ToolResultPart):
        flag = " (error)" if part.is_error else ""
        return TextPart(f"[tool {part.name or part.call_id} returned{flag}: {part.text}]")
    if isinstance(part, StructuredPart):
        return TextPart(json.dumps(part.data, ensure_ascii=False))
    return TextPart(str(part))


def _size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


def downgrade(turns: list[ChatTurn], capabilities: Capabilities, model: str) -> list[ChatTurn]:
    """Turns with what ``model`` cannot take turned into notes: images without image input, documents
    (non-text files) without document input, tool turns without tool support; text files become text."""
    out: list[ChatTurn] = []
    for turn in turns:
        parts: list[Part] = []
        for part in turn.parts:
            parts.extend(_downgraded(part, capabilities, model))
        role = turn.role
        if role == "tool" and not capabilities.tools:
            role = "user"
        out.append(ChatTurn(role, tuple(parts)))
    return out


def _downgraded(part: Part, capabilities: Capabilities, model: str) -> list[Part]:
    if isinstance(part, ImagePart) and not capabilities.images:
        return [note_for(part, f"{model} cannot see images")]
    if isinstance(part, FilePart):
        text = text_file(part)
        if text is not None:
            return [TextPart(text)]
        if not (capabilities.documents and part.media_type == "application/pdf"):
            return [note_for(part, f"{model} cannot read this kind of file")]
    if isinstance(part, ToolCallPart | ToolResultPart) and not capabilities.tools:
        return [note_for(part, "")]
    if isinstance(part, ToolResultPart):
        inner = [q for p in part.parts for q in _downgraded(p, capabilities, model)]
        return [replace(part, parts=tuple(inner))]
    if isinstance(part, StructuredPart):
        return [note_for(part, "")]
    return [part]


def prepare(request: ChatRequest, capabilities: Capabilities) -> list[ChatTurn]:
    """The turns every format starts from: cleaned, calls paired with results, downgraded to what the
    model can take."""
    turns = paired_tool_calls(clean_turns(request.turns))
    return clean_turns(downgrade(turns, capabilities, request.model))


#: A tool call whose arguments were not a JSON object keeps the raw text under this key (the tool is
#: then not called: the model is told its arguments were malformed).
RAW_ARGUMENTS = "_raw_arguments"


def json_arguments(text: str) -> dict[str, Any]:
    """A tool call's arguments parsed from streamed JSON text (``""`` is ``{}``); text that is not a JSON
    object is kept as ``{RAW_ARGUMENTS: text}``."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {RAW_ARGUMENTS: text}
    return value if isinstance(value, dict) else {RAW_ARGUMENTS: text}
