"""The reply machinery of a session: one turn on the hub loop, from storing the user message to storing
the reply as complete, stopped or failed. Mixed into :class:`ai_sessions.session.Session`, whose state
(``_messages``, ``_record``, ``_status``, the reply tasks) it works on; everything here runs on the hub loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from .consume import consume
from .errors import AiSessionsError, ProviderError, SessionBusy
from .model import EventKind, Message, MessageStatus, Role, SessionStatus, new_id, now
from .providers.base import ChatRequest, ChatTurn

if TYPE_CHECKING:
    from .hub import SessionHub
    from .model import ModelSwitch, SessionRecord

log = logging.getLogger(__name__)
CHECKPOINT_S = 2.0
PARAMS = ("temperature", "max_tokens")


class ReplyMachinery:
    """Builds requests from the history and runs replies (see docs/architecture.md, "A reply")."""

    _hub: SessionHub
    _record: SessionRecord
    _messages: list[Message]
    _switches: list[ModelSwitch]
    _status: SessionStatus
    _reply_task: asyncio.Task[Any] | None
    _outer_task: asyncio.Task[Any] | None
    _stop_requested: bool
    _finishing: bool
    _final_events: list[tuple[EventKind, dict[str, Any]]]

    def _history(self) -> tuple[ChatTurn, ...]:
        """Turns to send: user messages and assistant text the user saw (complete or stopped)."""
        turns = []
        for message in self._messages:
            if message.role is Role.USER:
                turns.append(ChatTurn("user", message.content))
            elif message.content and message.status in (MessageStatus.COMPLETE, MessageStatus.STOPPED,
                                                         MessageStatus.INTERRUPTED):
                turns.append(ChatTurn("assistant", message.content))
        return tuple(turns)

    def _request(self, model: str, params: dict[str, Any]) -> ChatRequest:
        defaults = self._hub.settings.defaults
        merged = {"temperature": defaults.temperature, "max_tokens": defaults.max_tokens,
                  **self._record.params, **params}
        system = params.get("system_prompt", self._record.system_prompt or defaults.system_prompt)
        extra = {k: v for k, v in merged.items() if k not in (*PARAMS, "system_prompt")}
        return ChatRequest(model=model, turns=self._history(), system=system,
                           temperature=merged["temperature"], max_tokens=merged["max_tokens"], extra=extra)

    async def _reply(self, prompt: str | None, params: dict[str, Any], on_delta: Any = None) -> Message:
        """Store the user message, stream the reply, store the result. Runs on the hub loop."""
        if self._status is SessionStatus.STREAMING:
            raise SessionBusy(f"session {self.name!r} is already replying")
        self._check_open()
        self._status = SessionStatus.STREAMING
        self._outer_task = asyncio.current_task()
        self._stop_requested = self._finishing = False
        turn = asyncio.ensure_future(self._turn(prompt, params, on_delta))
        try:
            return await asyncio.shield(turn)
        except asyncio.CancelledError:
            # our caller was cancelled (kernel interrupt): stop the reply; what is being stored still is
            self._stop()
            await asyncio.gather(turn, return_exceptions=True)
            raise
        finally:
            self._reply_task = self._outer_task = None
            if self._status is SessionStatus.STREAMING:
                self._status = SessionStatus.IDLE
            # the reply's final events go out once the session is idle, so a listener can send at once
            final, self._final_events = self._final_events, []
            for kind, payload in final:
                self._emit(kind, payload)

    def _stop(self) -> bool:
        """(hub loop) Ask the reply in flight to stop; False if none runs. Before the stream starts this
        only sets a flag (the user message and the empty reply are stored, then the reply ends as
        stopped); once the final state is being stored, the reply finishes as it is."""
        if self._outer_task is None or self._outer_task.done():
            return False
        self._stop_requested = True
        if self._reply_task is not None and not self._finishing:
            self._reply_task.cancel()
        return True

    async def _turn(self, prompt: str | None, params: dict[str, Any], on_delta: Any) -> Message:
        store = self._hub._store
        if prompt is None:
            await self._drop_last_reply()
        else:
            user = Message(new_id(), self.id, 0, Role.USER, prompt)
            user = await asyncio.wrap_future(store.defer(store.append_message, user))
            self._messages.append(user)
            self._emit(EventKind.MESSAGE_USER, user.to_dict())
        full_model, _ = self._hub.resolve_model(self._record.model)
        request = self._request(full_model.partition(":")[2], params)
        reply = Message(new_id(), self.id, 0, Role.ASSISTANT, "", model=full_model,
                        status=MessageStatus.STREAMING)
        reply = await asyncio.wrap_future(store.defer(store.append_message, reply))
        self._messages.append(reply)
        self._reply_task = asyncio.ensure_future(self._stream_into(reply, full_model, request, on_delta))
        return await self._reply_task

    async def _drop_last_reply(self) -> None:
        while self._messages and self._messages[-1].role is Role.ASSISTANT:
            last = self._messages.pop()
            await asyncio.wrap_future(self._hub._store.defer(self._hub._store.delete_messages, self.id,
                                                             last.seq))
        if not self._messages:
            raise AiSessionsError(f"session {self.name!r} has no message to reply to",
                                  hint="send a prompt first")
        self._emit(EventKind.SESSION_UPDATED, {"regenerate": True})

    async def _stream_into(self, reply: Message, full_model: str, request: ChatRequest,
                           on_delta: Any) -> Message:
        store = self._hub._store
        index = len(self._messages) - 1
        parts: list[str] = []
        started = time.monotonic()
        self._emit(EventKind.REQUEST_STARTED, {"message_id": reply.id, "model": full_model})

        def update(**changes: Any) -> Message:
            message = self._messages[index].with_(content="".join(parts), **changes)
            self._messages[index] = message
            return message

        last_checkpoint = time.monotonic()
        # Text that arrives in one burst (one network read) goes out as one delta event: the event
        # path costs microseconds per call, and an SDK can hand over hundreds of pieces per read.
        # on_text runs once per piece (thousands a second), so it only appends; the rest is per burst.
        sent = 0  # parts already sent as delta events
        loop = asyncio.get_running_loop()

        def send_deltas() -> None:
            nonlocal sent
            if sent == len(parts):
                return
            pieces, sent = parts[sent:], len(parts)
            text = "".join(pieces)
            self._emit(EventKind.RESPONSE_DELTA, {"message_id": reply.id, "text": text, "pieces": len(pieces)})
            if on_delta is not None:
                on_delta(text)

        def on_text(text: str) -> None:
            nonlocal last_checkpoint
            parts.append(text)
            if len(parts) - sent == 1:  # the first piece of a burst
                loop.call_soon(send_deltas)  # runs when the stream next waits for the network
                if time.monotonic() - last_checkpoint > CHECKPOINT_S:
                    last_checkpoint = time.monotonic()
                    store.defer(store.update_message, update())

        try:
            if self._stop_requested:  # stopped before the provider was asked
                raise asyncio.CancelledError
            provider = await self._hub._provider(full_model.partition(":")[0])
            try:
                finished = await consume(provider, request, full_model=full_model, on_text=on_text)
            finally:
                send_deltas()  # every delta event precedes the reply's final events
        except asyncio.CancelledError:
            message = update(status=MessageStatus.STOPPED, completed_at=now())
            await self._finish(message, EventKind.RESPONSE_COMPLETED, started)
            if self._stop_requested:
                return message
            raise
        except ProviderError as error:
            message = update(status=MessageStatus.FAILED, error=str(error), error_kind=error.kind,
                             completed_at=now())
            await self._finish(message, EventKind.RESPONSE_FAILED, started)
            raise
        except AiSessionsError as error:
            message = update(status=MessageStatus.FAILED, error=str(error), error_kind="provider_error",
                             completed_at=now())
            await self._finish(message, EventKind.RESPONSE_FAILED, started)
            raise
        except Exception as error:
            log.exception("provider %s failed unexpectedly", full_model)
            message = update(status=MessageStatus.FAILED, error=f"{type(error).__name__}: {error}",
                             error_kind="provider_error", completed_at=now())
            await self._finish(message, EventKind.RESPONSE_FAILED, started)
            raise ProviderError(f"{full_model} failed: {type(error).__name__}",
                                hint="see the log for details; regenerate to try again") from error
        usage = finished.usage
        message = update(status=MessageStatus.COMPLETE, usage=usage, completed_at=now(),
                         cost=self._hub._cost(full_model, usage))
        await self._finish(message, EventKind.RESPONSE_COMPLETED, started)
        return message

    async def _finish(self, message: Message, kind: EventKind, started: float) -> None:
        self._finishing = True  # a stop request from now on must not interrupt storing the final state
        store = self._hub._store
        await asyncio.wrap_future(store.defer(store.update_message, message))
        payload = {**message.to_dict(), "elapsed": time.monotonic() - started}
        self._final_events = [(kind, payload), (EventKind.MESSAGE_ASSISTANT, message.to_dict())]  # see _reply
