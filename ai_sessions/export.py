"""Export a session to Markdown or JSON, and read the JSON back, checking every field before anything is
stored (an import either succeeds whole or stores nothing)."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .checks import check_params, check_part, check_text
from .errors import AiSessionsError
from .model import Message, MessageStatus, ModelSwitch, Role, SessionRecord, Usage, new_id, now
from .parts import ImagePart, Part, TextPart, ToolCallPart, ToolResultPart, binary_parts, part_from_dict

#: 3: messages carry ``id`` and ``parent_id`` (the tree of branches) and the session its ``head``.
FORMAT_VERSION = 3
#: An export larger than this is refused before it is parsed.
MAX_EXPORT_BYTES = 256 * 1024 * 1024
MAX_MESSAGES = 200_000
#: Largest token count accepted (an exact integer everywhere, SQLite and JavaScript included).
MAX_COUNT = 2**53 - 1
#: Timestamps up to the end of year 9999 (what dates can show).
MAX_TIMESTAMP = 253_402_300_799.0
_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def export_session(record: SessionRecord, messages: list[Message], switches: list[ModelSwitch],
                   format: str, head: str | None = None) -> str:
    """``"markdown"`` for reading (give the current branch), ``"json"`` for :func:`parse_export` (give every
    message of every branch, with ``head`` ending the current one; attachments included, base64)."""
    if format == "json":
        return json.dumps({
            "format": "ai_sessions", "version": FORMAT_VERSION,
            "session": {"name": record.name, "model": record.model, "params": record.params,
                        "system_prompt": record.system_prompt, "created_at": record.created_at, "head": head},
            "messages": [_message_dict(m) for m in messages],
            "model_switches": [s.to_dict() for s in switches],
        }, indent=2, ensure_ascii=False)
    if format in ("markdown", "md"):
        return _markdown(record, messages, switches)
    raise AiSessionsError(f"unknown export format {format!r}", hint="use 'markdown' or 'json'")


def _message_dict(message: Message) -> dict[str, Any]:
    data = message.to_dict()
    data["parts"] = [_part_dict(p) for p in message.parts]
    return data


def _part_dict(part: Part) -> dict[str, Any]:
    data = part.to_dict()
    if isinstance(part, ToolResultPart):
        data["parts"] = [_part_dict(p) for p in part.parts]
    elif getattr(part, "data", None) is not None:
        data["data"] = base64.b64encode(part.data).decode("ascii")  # type: ignore[union-attr]
    return data


def _markdown(record: SessionRecord, messages: list[Message], switches: list[ModelSwitch]) -> str:
    lines = [f"# {record.name}", "", f"- model: `{record.model}`",
             f"- created: {_iso(record.created_at)}"]
    if record.system_prompt:
        lines.append(f"- system prompt: {record.system_prompt}")
    switch_at: dict[int, list[ModelSwitch]] = {}
    for s in switches:
        switch_at.setdefault(s.message_index, []).append(s)
    for index, message in enumerate(messages):
        for s in switch_at.get(index, []):
            lines += ["", f"*— switched from `{s.from_model}` to `{s.to_model}`"
                          + (f": {s.reason}" if s.reason else "") + " —*"]
        title = "User" if message.role is Role.USER else f"Assistant (`{message.model}`)"
        if message.status is not MessageStatus.COMPLETE:
            title += f" — {message.status.value}"
        lines += ["", f"## {title}", "", _markdown_body(message.parts)]
        if message.error:
            lines += ["", f"> error: {message.error}"]
    return "\n".join(lines) + "\n"


def _markdown_body(parts: tuple[Part, ...]) -> str:
    chunks = []
    for part in parts:
        if isinstance(part, TextPart):
            chunks.append(part.text)
        elif isinstance(part, ToolCallPart):
            chunks.append(f"> called `{part.name}` with `{json.dumps(dict(part.arguments), ensure_ascii=False)}`")
        elif isinstance(part, ToolResultPart):
            flag = " (error)" if part.is_error else ""
            chunks.append(f"> `{part.name or part.call_id}` returned{flag}:\n>\n> " + part.text.replace("\n", "\n> "))
        elif isinstance(part, ImagePart):
            chunks.append(f"*(image, {part.media_type})*")
        else:
            chunks.append(f"*({part.kind})*")
    return "\n\n".join(c for c in chunks if c) or "*(no text)*"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


# -- import ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedExport:
    """A checked export, ready to store under ``session_id``."""

    session_id: str
    name: Any
    model: str
    params: dict[str, Any]
    system_prompt: str | None
    messages: list[Message]
    switches: list[ModelSwitch]
    #: The last message of the current branch (None: the last message).
    head: str | None = None


def parse_export(text: str, *, new_session_id: str) -> ParsedExport:
    """Check an exported JSON text field by field; raises a one-line :class:`AiSessionsError` naming the
    first bad field."""
    if not isinstance(text, str):
        raise AiSessionsError(f"import_session needs the exported text, not a {type(text).__name__}",
                              hint="pass the text made by session.export('json')")
    if len(text) > MAX_EXPORT_BYTES:
        raise AiSessionsError(f"this export is larger than {MAX_EXPORT_BYTES // 2**20} MiB",
                              hint="split the session, or clear what is not needed before exporting")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AiSessionsError(f"not valid JSON (line {exc.lineno}, column {exc.colno})",
                              hint="import the text made by session.export('json')") from None
    except RecursionError:
        raise _damaged("it nests too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise _damaged(f"it holds a value that cannot be read ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != "ai_sessions":
        raise AiSessionsError("not an ai_sessions export", hint="import the text made by session.export('json')")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _damaged("'version' must be a positive integer")
    if version > FORMAT_VERSION:
        raise AiSessionsError("this export was made by a newer ai_sessions", hint="upgrade ai_sessions")
    session = data.get("session")
    if not isinstance(session, dict):
        raise _damaged("its 'session' entry is missing or malformed")
    model = session.get("model")
    _session_field(_model_name, model, "session 'model'")
    params = session.get("params") or {}
    if not isinstance(params, dict):
        raise _damaged("session 'params' must be an object")
    unknown = set(params) - {"temperature", "max_tokens"}
    if unknown:
        raise _damaged(f"session 'params' holds unknown keys: {', '.join(sorted(map(str, unknown)))}")
    try:
        check_params(params)
    except AiSessionsError as exc:
        raise _damaged(f"session 'params': {exc.message}") from None
    system = session.get("system_prompt")
    if system is not None:
        _session_field(_text_field, system, "session 'system_prompt'")
    name = session.get("name")
    if name is not None:
        _session_field(_text_field, name, "session 'name'")
    rows, switch_rows = data.get("messages", []), data.get("model_switches", [])
    for what, items in (("messages", rows), ("model_switches", switch_rows)):
        if not isinstance(items, list) or not all(isinstance(row, dict) for row in items):
            raise _damaged(f"'{what}' must be a list of objects")
    if len(rows) > MAX_MESSAGES:
        raise _damaged(f"it has more than {MAX_MESSAGES:,} messages")
    messages = []
    new_ids: dict[str, str] = {}  # exported id -> the imported message's id
    tree = version >= 3 and any(item.get("parent_id") is not None for item in rows)
    for seq, item in enumerate(rows, start=1):
        try:
            message = _message_from_export(item, new_session_id, seq)
            message = message.with_(parent_id=_parent(item, new_ids, messages, tree))
            _remember_id(item, message.id, new_ids)
        except (KeyError, TypeError, ValueError, AiSessionsError) as exc:
            detail = exc.message if isinstance(exc, AiSessionsError) else _detail(exc)
            raise _damaged(f"message {seq} is malformed ({detail})") from None
        messages.append(message)
    head = session.get("head")
    if head is not None and (not isinstance(head, str) or head not in new_ids):
        raise _damaged("session 'head' names no exported message")
    switches = []
    for number, item in enumerate(switch_rows, start=1):
        try:
            switches.append(_switch_from_export(item, new_session_id, len(messages)))
        except (KeyError, TypeError, ValueError, AiSessionsError) as exc:
            detail = exc.message if isinstance(exc, AiSessionsError) else _detail(exc)
            raise _damaged(f"model switch {number} is malformed ({detail})") from None
    return ParsedExport(new_session_id, name, model, dict(params), system, messages, switches,
                        new_ids[head] if head is not None else None)


def _parent(item: dict[str, Any], new_ids: dict[str, str], earlier: list[Message], tree: bool) -> str | None:
    """The imported parent of an exported message: its ``parent_id`` mapped (a tree), else the message
    before it (an export from before branches)."""
    if not tree:
        return earlier[-1].id if earlier else None
    parent = item.get("parent_id")
    if parent is None:
        return None
    if not isinstance(parent, str) or parent not in new_ids:
        raise ValueError("'parent_id' must name an earlier message of the export")
    return new_ids[parent]


def _remember_id(item: dict[str, Any], new_id: str, new_ids: dict[str, str]) -> None:
    old = item.get("id")
    if old is None:
        return
    if not isinstance(old, str) or old in new_ids:
        raise ValueError("'id' must be text, unique in the export")
    new_ids[old] = new_id


def _message_from_export(item: dict[str, Any], session_id: str, seq: int) -> Message:
    role = _choice(Role, item.get("role"), "role")
    status = _choice(MessageStatus, item.get("status", "complete"), "status")
    if status is MessageStatus.STREAMING:  # exported mid-reply
        status = MessageStatus.INTERRUPTED
    content = item.get("content")
    if content is not None:
        _text_field(content, "'content'")
    if "parts" in item and item["parts"] is not None:
        if not isinstance(item["parts"], list):
            raise ValueError("'parts' must be a list")
        parts: tuple[Part, ...] = tuple(part_from_dict(p) for p in item["parts"])
    else:
        parts = (TextPart(content),) if content else ()
    for part in parts:
        _check_part(part)
    for part in binary_parts(parts):
        if part.data is None:
            raise ValueError(f"an {part.kind} part carries no data")
    model = item.get("model")
    if model is not None:
        _model_name(model, "'model'")
    return Message(id=new_id(), session_id=session_id, seq=seq, role=role, parts=parts, model=model,
                   status=status, usage=_usage(item.get("usage")), cost=_number(item.get("cost"), "cost"),
                   error=_optional_text(item.get("error"), "'error'"),
                   error_kind=_optional_text(item.get("error_kind"), "'error_kind'"),
                   created_at=_timestamp(item.get("created_at"), "created_at") or 0.0,
                   completed_at=_timestamp(item.get("completed_at"), "completed_at"))


def _switch_from_export(item: dict[str, Any], session_id: str, count: int) -> ModelSwitch:
    models = [item.get("from"), item.get("to")]
    for key, value in zip(("'from'", "'to'"), models, strict=True):
        _model_name(value, key)
    index = item.get("message_index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= count:
        raise ValueError(f"'message_index' must be a whole number in 0..{count}, not {index!r}")
    return ModelSwitch(session_id, models[0], models[1], index,
                       _optional_text(item.get("reason"), "'reason'"),
                       _timestamp(item.get("created_at"), "created_at") or now())


def _usage(value: Any) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - set(_USAGE_KEYS):
        raise ValueError(f"'usage' must be an object with {', '.join(_USAGE_KEYS)}")
    counts = {}
    for key, count in value.items():
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
            raise ValueError(f"'usage.{key}' must be a whole number in 0..{MAX_COUNT}, not {count!r}")
        counts[key] = count
    return Usage(**counts)


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"'{what}' must be a non-negative number, not {value!r}")
    return float(value)


def _timestamp(value: Any, what: str) -> float | None:
    seconds = _number(value, what)
    if seconds is not None and seconds > MAX_TIMESTAMP:
        raise ValueError(f"'{what}' must be a time in seconds before the year 10000, not {value!r}")
    return seconds


def _choice(enum: Any, value: Any, what: str) -> Any:
    try:
        return enum(value)
    except (TypeError, ValueError):
        known = ", ".join(member.value for member in enum)
        raise ValueError(f"'{what}' must be one of {known}, not {value!r}") from None


def _optional_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    _text_field(value, what)
    return value


def _model_name(value: Any, what: str) -> None:
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"{what} must be 'provider:model' text, not {value!r}")
    _text_field(value, what)


def _session_field(check: Any, value: Any, what: str) -> None:
    try:
        check(value, what)
    except ValueError as exc:
        raise _damaged(str(exc)) from None


def _detail(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


def _text_field(value: Any, what: str) -> None:
    """Raise ValueError unless ``value`` is storable text."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, not {type(value).__name__}")
    try:
        check_text(value, what)
    except AiSessionsError as exc:
        raise ValueError(exc.message) from None


def _check_part(part: Part) -> None:
    try:
        check_part(part)
    except AiSessionsError as exc:
        raise ValueError(exc.message) from None


def _damaged(detail: str) -> AiSessionsError:
    return AiSessionsError(f"this export is damaged: {detail}",
                           hint="import the unedited text made by session.export('json')")
