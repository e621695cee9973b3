"""A session's branches (issue 13): list them, check one out, delete a message from the current one.

Edits and regenerations make the branches (a :class:`~ai_sessions.reply.Reply` appends its prompt and reply
after the messages it keeps, see ``TurnSpec.branch_at``); this module is what a session does with them. A
:class:`Session` holds one :class:`BranchOps` and delegates to it; changes run on the hub loop, like every
change of session state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import AiSessionsError
from .model import EventKind, MessageStatus, Role
from .tree import Branch, Siblings, Tree

if TYPE_CHECKING:
    from .conversation import Conversation
    from .runtime import Runtime


class BranchOps:
    """The branches of one session. ``emit(kind, payload)`` reports a change as the session's event."""

    def __init__(self, runtime: Runtime, conversation: Conversation, emit: Callable[[EventKind, dict[str, Any]], None]
                 ) -> None:
        self.runtime = runtime
        self.conversation = conversation
        self.emit = emit

    @property
    def session_id(self) -> str:
        return self.conversation.session_id

    # -- reading (any thread) ---------------------------------------------------------------------------
    def tree(self) -> Tree:
        return Tree(self.runtime.store.tree(self.session_id))

    def current(self) -> str | None:
        """The id of the current branch: its last message's (None for an empty session)."""
        messages = self.conversation.messages
        return messages[-1].id if messages else None

    def branches(self) -> list[Branch]:
        return self.tree().branches(self.current())

    def siblings(self) -> dict[str, Siblings]:
        """For the messages of the current branch that have siblings: their place among them."""
        return self.runtime.store.siblings(self.session_id, [m.id for m in self.conversation.messages])

    def edit_parts(self, index: int, text: str) -> tuple[Any, ...]:
        """The parts of user message ``index`` with ``text`` in place of its own text, the first text part
        (what follows is kept: files, images, and the descriptions of ``context=[...]`` objects)."""
        from .parts import TextPart

        message = self.message_at(index, "edit")
        if message.role is not Role.USER:
            raise AiSessionsError(f"message {index} is a reply: only your own messages can be edited",
                                  hint="regenerate a reply instead (s.regenerate(at=index))")
        parts = message.parts
        attached = parts[1:] if parts and isinstance(parts[0], TextPart) else parts
        return (*((TextPart(text),) if text.strip() else ()), *attached)

    def message_at(self, index: Any, what: str) -> Any:
        messages = self.conversation.messages
        if isinstance(index, bool) or not isinstance(index, int) or not -len(messages) <= index < len(messages):
            raise AiSessionsError(f"cannot {what} message {index!r}: the current branch has {len(messages)} "
                                  "message(s)", hint="give its position in s.messages, e.g. 0 for the first")
        return messages[index]

    def reply_position(self, index: Any) -> int:
        """The position of reply ``index`` (negative counts from the end), checked, for a regeneration."""
        message = self.message_at(index, "regenerate")
        if message.role is not Role.ASSISTANT:
            raise AiSessionsError(f"message {index} is your own: only a reply can be regenerated",
                                  hint="use s.edit(index, text) to ask it differently")
        return index % len(self.conversation.messages)

    # -- changes (hub loop) -------------------------------------------------------------------------------
    def checkout(self, target: str) -> str:
        """Make the newest branch through message ``target`` the current one; returns its id."""
        if not isinstance(target, str):
            raise AiSessionsError(f"a branch id is text, not {type(target).__name__}",
                                  hint="use an id from s.branches (or any message's id)")
        store = self.runtime.store
        leaf = store.checkout(self.session_id, target)
        if leaf is None:
            raise AiSessionsError(f"no branch or message {target!r} in this session",
                                  hint="use an id from s.branches (or any message's id)")
        self.conversation.messages[:] = messages = store.load_messages(self.session_id)
        self.conversation.switches[:] = store.load_switches(self.session_id, [m.id for m in messages])
        self.emit(EventKind.SESSION_UPDATED, {"branch": leaf})
        return leaf

    def delete(self, index: int) -> list[str]:
        """Delete message ``index`` of the current branch (a prompt with its replies); returns their ids."""
        messages = self.conversation.messages
        message = self.message_at(index, "delete")
        index %= len(messages)
        tree = self.tree()
        ids = tree.removal(message.id, with_replies=message.role is Role.USER)
        if any(m.status is MessageStatus.STREAMING for m in messages if m.id in ids):
            raise AiSessionsError("a reply still streaming cannot be deleted", hint="stop it first")
        kept = [m for m in messages if m.id not in ids]
        # what followed the deleted messages stays on its branch, moved up; if they ended the current
        # branch, it now ends at the message before them (even if other branches go on from there)
        head = kept[-1].id if kept else None
        store = self.runtime.store
        store.remove_messages(self.session_id, ids, head, False)  # the session purges, off the hub loop
        # switches that followed a deleted message now follow what the messages after it follow
        store.reanchor_switches(self.session_id, ids, messages[index - 1].id if index else None)
        self.conversation.messages[:] = loaded = store.load_messages(self.session_id)
        self.conversation.switches[:] = store.load_switches(self.session_id, [m.id for m in loaded])
        self.emit(EventKind.SESSION_UPDATED, {"deleted": ids, "branch": head})
        return ids
