"""Export a session to Markdown or JSON, and read the JSON back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .errors import AiSessionsError
from .model import Message, MessageStatus, ModelSwitch, Role, SessionRecord, Usage, new_id, now

FORMAT_VERSION = 1


def export_session(record: SessionRecord, messages: list[Message], switches: list[ModelSwitch],
                   format: str) -> str:
    """``"markdown"`` for reading, ``"json"`` for :func:`parse_export`."""
    if format == "json":
        return json.dumps({
            "format": "ai_sessions", "version": FORMAT_VERSION,
            "session": {"name": record.name, "model": record.model, "params": record.params,
                        "system_prompt": record.system_prompt, "created_at": record.created_at},
            "messages": [m.to_dict() for m in messages],
            "model_switches": [s.to_dict() for s in switches],
        }, indent=2, ensure_ascii=False)
    if format in ("markdown", "md"):
        return _markdown(record, messages, switches)
    raise AiSessionsError(f"unknown export format {format!r}", hint="use 'markdown' or 'json'")


def _markdown(record: SessionRecord, messages: list[Message], switches: list[ModelSwitch]) -> str:
    lines = [f"# {record.name}", "", f"- model: `{record.model}`",
             f"- created: {_iso(record.created_at)}"]
    if record.system_prompt:
        lines.append(f"- system prompt: {record.system_prompt}")
    switch_at = {s.message_index: s for s in switches}
    for index, message in enumerate(messages):
        if index in switch_at:
            s = switch_at[index]
            lines += ["", f"*— switched from `{s.from_model}` to `{s.to_model}`"
                          + (f": {s.reason}" if s.reason else "") + " —*"]
        title = "User" if message.role is Role.USER else f"Assistant (`{message.model}`)"
        if message.status is not MessageStatus.COMPLETE:
            title += f" — {message.status.value}"
        lines += ["", f"## {title}", "", message.content or "*(no text)*"]
        if message.error:
            lines += ["", f"> error: {message.error}"]
    return "\n".join(lines) + "\n"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def parse_export(text: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Check and split an exported JSON text into (session, messages, switches) dicts."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AiSessionsError(f"not valid JSON (line {exc.lineno}, column {exc.colno})",
                              hint="import the text made by session.export('json')") from None
    if not isinstance(data, dict) or data.get("format") != "ai_sessions":
        raise AiSessionsError("not an ai_sessions export", hint="import the text made by session.export('json')")
    if not isinstance(data.get("version", 0), int) or data.get("version", 0) > FORMAT_VERSION:
        raise AiSessionsError("this export was made by a newer ai_sessions", hint="upgrade ai_sessions")
    session, messages, switches = data.get("session"), data.get("messages", []), data.get("model_switches", [])
    if not isinstance(session, dict) or not isinstance(session.get("params") or {}, dict):
        raise _damaged("its 'session' entry is missing or malformed")
    for what, rows in (("messages", messages), ("model_switches", switches)):
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise _damaged(f"'{what}' must be a list of objects")
    return session, messages, switches


def messages_from_export(items: list[dict[str, Any]], session_id: str) -> list[Message]:
    """New messages (fresh ids, seq 1..n) for ``session_id``; a reply exported while streaming becomes
    ``interrupted``. Raises a one-line error for a damaged entry."""
    messages = []
    for seq, item in enumerate(items, start=1):
        try:
            message = message_from_export(item, session_id, seq)
        except (KeyError, TypeError, ValueError) as exc:
            raise _damaged(f"message {seq} is malformed ({type(exc).__name__}: {exc})") from None
        if message.status is MessageStatus.STREAMING:
            message = message.with_(status=MessageStatus.INTERRUPTED)
        messages.append(message)
    return messages


def switches_from_export(items: list[dict[str, Any]], session_id: str) -> list[ModelSwitch]:
    """The model switches of an export, for ``session_id``."""
    try:
        return [ModelSwitch(session_id, str(s["from"]), str(s["to"]), int(s["message_index"]), s.get("reason"),
                            s.get("created_at") or now()) for s in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise _damaged(f"a model switch is malformed ({type(exc).__name__}: {exc})") from None


def message_from_export(item: dict[str, Any], session_id: str, seq: int) -> Message:
    """A new message (fresh id) for ``session_id`` from an exported message dict."""
    usage = item.get("usage")
    return Message(id=new_id(), session_id=session_id, seq=seq, role=Role(item["role"]),
                   content=str(item.get("content") or ""), model=item.get("model"),
                   status=MessageStatus(item.get("status", "complete")),
                   usage=Usage(**usage) if usage else None, cost=item.get("cost"), error=item.get("error"),
                   error_kind=item.get("error_kind"), created_at=item.get("created_at") or 0.0,
                   completed_at=item.get("completed_at"))


def _damaged(detail: str) -> AiSessionsError:
    return AiSessionsError(f"this export is damaged: {detail}",
                           hint="import the unedited text made by session.export('json')")
