"""Approval of tool calls: a tool whose policy is ``ask`` never runs without the user's say-so.

Who is asked, in order:

1. the ``approve=`` callback given to ``send`` / ``submit`` / ``stream`` (``approve(call) -> bool``);
2. a chat showing the session (an approval card with Approve, Deny and "Always allow in this session"),
   when the kernel can hear its answer: not while a call of ours blocks the main thread (``s.send()``, a
   ``%%ai_session`` cell), since Jupyter delivers the click only when the kernel is idle;
3. nobody: the call is denied and the model is told why. Nothing waits for an answer that cannot come.

A waiting approval is cancelled by Stop like the rest of the reply.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .tools import Approver, Decision, ToolCall

log = logging.getLogger(__name__)
NO_ONE = ("no one could be asked: pass approve=lambda call: ... to send(), or send from a chat showing the "
          "session")
KERNEL_BUSY = ("the kernel is busy with the call that started this reply, so the chat cannot ask you: pass "
               "approve=... to send(), or start the reply from the chat or with s.submit()")


@dataclass
class Pending:
    """An approval the user is asked for in a chat."""

    call: ToolCall
    future: asyncio.Future[Decision]


class ApprovalBroker:
    """One per hub: routes approval requests to whoever can answer, and answers back (hub loop)."""

    def __init__(self, kernel_blocked: Callable[[], bool]) -> None:
        self._kernel_blocked = kernel_blocked
        self._askers: dict[str, list[Callable[[], bool]]] = {}
        self._pending: dict[str, Pending] = {}

    def register(self, session_id: str, can_ask: Callable[[], bool]) -> Callable[[], None]:
        """A front end that can show approval cards for ``session_id`` (``can_ask()``: it is on screen)."""
        self._askers.setdefault(session_id, []).append(can_ask)

        def unregister() -> None:
            askers = self._askers.get(session_id, [])
            if can_ask in askers:
                askers.remove(can_ask)

        return unregister

    def pending(self, session_id: str | None = None) -> list[ToolCall]:
        """Calls waiting for the user's answer (of one session, or all)."""
        return [p.call for p in self._pending.values() if session_id is None or p.call.session == session_id]

    async def decide(self, call: ToolCall, approve: Approver | None,
                     report: Callable[[str, ToolCall, dict[str, Any]], None]) -> Decision:
        """(hub loop) Ask for ``call``; returns the decision (a denial says why). ``report(stage, call,
        details)`` is told when the question is asked (``"requested"``, with ``by``: ``callback``,
        ``chat`` or ``nobody``) and answered (``"decided"``)."""
        if approve is not None:
            by = "callback"
        elif not any(can() for can in self._askers.get(call.session, [])):
            by, decision = "nobody", Decision(False, NO_ONE)
        elif self._kernel_blocked():
            by, decision = "nobody", Decision(False, KERNEL_BUSY)
        else:
            by = "chat"
        report("requested", call, {"by": by})
        if by == "nobody":
            report("decided", call, {"by": by, "approved": False, "reason": decision.reason})
            return decision
        decision = Decision(False, "stopped before an answer")
        try:
            if approve is not None:
                decision = await self._callback(call, approve)
            else:
                future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
                self._pending[call.id] = Pending(call, future)
                decision = await future
            return decision
        finally:
            self._pending.pop(call.id, None)
            report("decided", call, {"by": by, "approved": decision.approved, "reason": decision.reason})

    def answer(self, call_id: str, approved: bool, *, always: bool = False) -> bool:
        """(hub loop) The user's answer to a waiting call; False if it waits no more."""
        pending = self._pending.get(call_id)
        if pending is None or pending.future.done():
            return False
        reason = "" if approved else "the user denied it"
        pending.future.set_result(Decision(approved, reason, always and approved))
        return True

    async def _callback(self, call: ToolCall, approve: Approver) -> Decision:
        try:
            verdict: Any = await asyncio.to_thread(approve, call)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except Exception as exc:
            log.info("approve() raised for %s: %s", call.name, exc)
            return Decision(False, f"approve() raised {type(exc).__name__}: {exc}")
        return Decision(bool(verdict), "" if verdict else "approve() said no")
