"""A session's messages and model switches as held in memory (on the hub thread), and the history they
make for a model: which messages count, and how a reply's parts become turns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .model import Message, MessageStatus, ModelSwitch, Role
from .parts import Part, ToolResultPart
from .providers.base import ChatTurn

#: Replies the user saw, whose text goes back to the model (a failed reply is left out).
SENT_STATUSES = (MessageStatus.COMPLETE, MessageStatus.STOPPED, MessageStatus.INTERRUPTED)


@dataclass
class Conversation:
    """The messages (in order) and model switches of one session. Changed only on the hub thread."""

    session_id: str
    messages: list[Message] = field(default_factory=list)
    switches: list[ModelSwitch] = field(default_factory=list)

    def index_of(self, message_id: str) -> int:
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].id == message_id:
                return index
        raise KeyError(message_id)

    def replace(self, message: Message) -> None:
        """Put the new state of a message in its place."""
        self.messages[self.index_of(message.id)] = message

    def turns(self, exclude: str | None = None) -> list[ChatTurn]:
        """The history to send: user messages and what the user saw of replies (``exclude``: a reply in
        flight, whose own turns its :class:`~ai_sessions.reply.Reply` adds)."""
        turns: list[ChatTurn] = []
        for message in self.messages:
            if message.id == exclude:
                continue
            if message.role is Role.USER:
                if message.parts:
                    turns.append(ChatTurn("user", message.parts))
            elif message.status in SENT_STATUSES:
                turns.extend(reply_turns(message.parts))
        return turns


def reply_turns(parts: Iterable[Part]) -> list[ChatTurn]:
    """A reply's parts as turns: what the model said and called (``assistant``), and the results of its
    tool calls (``tool``), alternating as they happened."""
    turns: list[ChatTurn] = []
    current: list[Part] = []
    role = "assistant"
    for part in parts:
        part_role = "tool" if isinstance(part, ToolResultPart) else "assistant"
        if part_role != role and current:
            turns.append(ChatTurn(role, tuple(current)))
            current = []
        role = part_role
        current.append(part)
    if current:
        turns.append(ChatTurn(role, tuple(current)))
    return turns
