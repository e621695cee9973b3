"""The data model: sessions, messages, model switches and events, as plain values."""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from .parts import Part, StructuredPart, ToolCallPart, as_parts, text_of


def new_id() -> str:
    """A new random UUID string."""
    return str(uuid.uuid4())


def now() -> float:
    """Wall-clock time in seconds since the epoch (what the store records)."""
    return time.time()


class Role(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(enum.StrEnum):
    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # left streaming by a process that died


class SessionStatus(enum.StrEnum):
    IDLE = "idle"
    STREAMING = "streaming"
    CLOSED = "closed"


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the provider for one reply. ``input_tokens`` counts every input token,
    cached ones included; ``cache_read_tokens`` / ``cache_write_tokens`` say how many of them were read
    from or written to the provider's prompt cache (priced differently)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cache_read_tokens + other.cache_read_tokens,
                     self.cache_write_tokens + other.cache_write_tokens)

    @staticmethod
    def total(usages: Iterable[Usage | None]) -> Usage:
        """The sum of ``usages`` (None, a reply without a usage report, counts as nothing)."""
        total = Usage()
        for usage in usages:
            if usage is not None:
                total = total + usage
        return total

    def to_dict(self) -> dict[str, int]:
        data = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        if self.cache_read_tokens or self.cache_write_tokens:
            data |= {"cache_read_tokens": self.cache_read_tokens, "cache_write_tokens": self.cache_write_tokens}
        return data


def total_cost(costs: Iterable[float | None]) -> float | None:
    """The sum of the known ``costs`` in USD; None when none is known."""
    known = [cost for cost in costs if cost is not None]
    return sum(known) if known else None


@dataclass(frozen=True)
class Message:
    """One message of a session: typed ``parts`` (a string given here is one text part); ``content`` is
    their text. ``seq`` orders a session's messages as stored; ``parent_id`` places it in the session's
    tree of branches (see :mod:`ai_sessions.tree`)."""

    id: str
    session_id: str
    seq: int
    role: Role
    parts: tuple[Part, ...] = ()
    model: str | None = None
    status: MessageStatus = MessageStatus.COMPLETE
    usage: Usage | None = None
    cost: float | None = None
    error: str | None = None
    error_kind: str | None = None
    created_at: float = field(default_factory=now)
    completed_at: float | None = None
    #: The message before this one on its branch (None for a first message); set by the store.
    parent_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.parts, tuple):
            object.__setattr__(self, "parts", as_parts(self.parts))

    @property
    def content(self) -> str:
        """The message's text (its text parts joined)."""
        return text_of(self.parts)

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))

    @property
    def structured(self) -> StructuredPart | None:
        """The message's structured result, if it has one."""
        return next((p for p in reversed(self.parts) if isinstance(p, StructuredPart)), None)

    @cached_property
    def parsed(self) -> Any:
        """The structured result (``send(..., schema=Review)``) as a validated ``Review`` when that type was
        used in this process (by a send or map, or ``schemas.register``), else its JSON data (e.g. after a
        kernel restart); None when the message has no structured result."""
        part = self.structured
        if part is None:
            return None
        from .schemas import parsed_value

        return parsed_value(part.data, part.schema)

    def with_(self, **changes: Any) -> Message:
        """A copy with some fields changed (``content=`` replaces the text with one text part)."""
        if "content" in changes:
            changes["parts"] = as_parts(changes.pop("content"))
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "seq": self.seq, "role": self.role.value, "content": self.content,
            "parts": [p.to_dict() for p in self.parts], "model": self.model, "status": self.status.value,
            "usage": None if self.usage is None else self.usage.to_dict(),
            "cost": self.cost, "error": self.error, "error_kind": self.error_kind,
            "created_at": self.created_at, "completed_at": self.completed_at, "parent_id": self.parent_id,
        }


@dataclass(frozen=True)
class ModelSwitch:
    """A change of model inside a session, at ``message_index`` (number of messages before it on the branch
    shown). ``after_id`` is the message it follows (None: before the first): the store keeps that, so a
    switch stays with its branch and moves with its message when messages before it are deleted."""

    session_id: str
    from_model: str
    to_model: str
    message_index: int
    reason: str | None = None
    created_at: float = field(default_factory=now)
    after_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_model, "to": self.to_model, "message_index": self.message_index,
                "reason": self.reason, "created_at": self.created_at}


@dataclass(frozen=True)
class SessionRecord:
    """A session's persistent identity and settings, as stored."""

    id: str
    name: str
    scope: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    system_prompt: str | None = None
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    fallback_reason: str | None = None

    def with_(self, **changes: Any) -> SessionRecord:
        return replace(self, **changes)


class EventKind(enum.StrEnum):
    SESSION_CREATED = "session.created"
    SESSION_UPDATED = "session.updated"
    SESSION_CLOSED = "session.closed"
    SESSION_DELETED = "session.deleted"
    MESSAGE_USER = "message.user"
    REQUEST_STARTED = "llm.request.started"
    REQUEST_RETRY = "llm.request.retry"
    #: model="auto": a request failed after its retries, before any text, and the reply fails over
    REQUEST_FAILED = "llm.request.failed"
    RESPONSE_DELTA = "llm.response.delta"
    RESPONSE_COMPLETED = "llm.response.completed"
    RESPONSE_FAILED = "llm.response.failed"
    MESSAGE_ASSISTANT = "message.assistant"
    MODEL_SWITCHED = "model.switched"
    TOOL_APPROVAL_REQUESTED = "tool.approval.requested"
    TOOL_APPROVAL_DECIDED = "tool.approval.decided"
    TOOL_CALL_STARTED = "tool.call.started"
    TOOL_CALL_FINISHED = "tool.call.finished"
    JOB_SUBMITTED = "job.submitted"  # a map became a stored job (live, or sent to a provider's Batch API)
    JOB_ENDED = "job.ended"  # ... and ended: its results are in the store


@dataclass(frozen=True)
class Event:
    """Something that happened to a session. ``payload`` is JSON-serialisable."""

    kind: EventKind
    session_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=now)

    def stored_payload(self) -> dict[str, Any]:
        """What the store keeps of ``payload``: ids and metadata, never the text again (the text lives in
        the message rows only, so a clear or delete removes it everywhere)."""
        return {k: v for k, v in self.payload.items() if k not in _TEXT_KEYS}


#: Payload keys that carry conversation text (left out of stored events).
_TEXT_KEYS = frozenset({"content", "parts", "text", "prompt", "arguments", "system_prompt"})
