"""A chat session: its history, model and parameters, and the send / stream / cancel machinery.

State is owned by the hub loop: public methods called from a cell hand work to that loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from . import export as export_mod
from .consume import consume
from .errors import AiSessionsError, ProviderError, SessionBusy, SessionClosed
from .model import (
    Event,
    EventKind,
    Message,
    MessageStatus,
    ModelSwitch,
    Role,
    SessionRecord,
    SessionStatus,
    Usage,
    new_id,
    now,
)
from .providers.base import ChatRequest, ChatTurn

if TYPE_CHECKING:
    from .hub import SessionHub

log = logging.getLogger(__name__)
CHECKPOINT_S = 2.0
_PARAMS = ("temperature", "max_tokens")


def check_params(params: dict[str, Any]) -> None:
    """Refuse a ``temperature`` outside 0..2 or a ``max_tokens`` that is not a positive integer (None is
    fine: the default applies)."""
    temperature, max_tokens = params.get("temperature"), params.get("max_tokens")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)
                                    or not 0 <= temperature <= 2):
        raise AiSessionsError(f"temperature {temperature!r} is not a number between 0 and 2",
                              hint="e.g. temperature=0.2 (lower is more focused)")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise AiSessionsError(f"max_tokens {max_tokens!r} is not a positive integer", hint="e.g. max_tokens=1024")


def _check_prompt(prompt: Any) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        got = "an empty prompt" if isinstance(prompt, str) else f"a {type(prompt).__name__}"
        raise AiSessionsError(f"the prompt must be non-empty text, not {got}",
                              hint="e.g. s.send(f\"Describe this table:\\n{df.head().to_string()}\")")


class ReplyHandle:
    """A reply running in the background (from :meth:`Session.submit`)."""

    def __init__(self, session: Session, future: concurrent.futures.Future[Message]) -> None:
        self.session = session
        self._future = future

    def result(self, timeout: float | None = None) -> Message:
        """Wait for the reply; raises the provider error if it failed."""
        if not self._future.done():
            self.session._hub._loop.refuse_wait("ReplyHandle.result()")
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> None:
        """Stop the reply; its partial text is kept as ``stopped``."""
        self.session.cancel()

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"<ReplyHandle session={self.session.name!r} {state}>"


class Session:
    """One isolated conversation. Get one with ``hub.session(name)``.

    >>> s = ai_sessions.hub().session("analysis")        # doctest: +SKIP
    >>> s.send("What is a p-value?").content             # doctest: +SKIP
    """

    def __init__(self, hub: SessionHub, record: SessionRecord, messages: list[Message],
                 switches: list[ModelSwitch]) -> None:
        self._hub = hub
        self._record = record
        self._messages = messages
        self._switches = switches
        self._status = SessionStatus.IDLE
        self._reply_task: asyncio.Task[Any] | None = None  # the stream being consumed
        self._outer_task: asyncio.Task[Any] | None = None  # the whole reply, incl. storing the result
        self._stop_requested = False
        self._finishing = False
        self._final_events: list[tuple[EventKind, dict[str, Any]]] = []
        self._warned: set[str] = set()

    # -- read-only views ----------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def scope(self) -> str:
        return self._record.scope

    @property
    def model(self) -> str:
        """The model replies come from (after any fallback)."""
        return self._hub.resolve_model(self._record.model)[0]

    @property
    def requested_model(self) -> str:
        """The model this session was asked to use (before fallback)."""
        return self._record.model

    @property
    def fallback_reason(self) -> str | None:
        """Why replies do not come from :attr:`requested_model`, or None."""
        return self._hub.resolve_model(self._record.model)[1]

    @property
    def system_prompt(self) -> str | None:
        return self._record.system_prompt

    @property
    def params(self) -> dict[str, Any]:
        """Per-session parameters (temperature, max_tokens) over the global defaults."""
        return dict(self._record.params)

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(self._messages)

    @property
    def model_switches(self) -> tuple[ModelSwitch, ...]:
        return tuple(self._switches)

    @property
    def status(self) -> SessionStatus:
        return self._status

    @property
    def usage(self) -> Usage:
        """Tokens in/out summed over this session's replies."""
        total = Usage()
        for message in self._messages:
            if message.usage:
                total = total + message.usage
        return total

    @property
    def cost(self) -> float | None:
        """Summed cost in USD of the replies whose price is known (None if none is)."""
        costs = [m.cost for m in self._messages if m.cost is not None]
        return sum(costs) if costs else None

    def __repr__(self) -> str:
        return (f"<Session {self.name!r} model={self.model!r} messages={len(self._messages)} "
                f"status={self._status.value}>")

    # -- conversation ---------------------------------------------------------------------------
    def send(self, prompt: str, **params: Any) -> Message:
        """Send ``prompt`` and wait for the whole reply. Interrupting the kernel stops the reply
        (its partial text is kept as ``stopped``). Raises :class:`ProviderError` on failure."""
        _check_prompt(prompt)
        self._check_open()
        self._announce_fallback()
        return self._hub._loop.run(self._reply(prompt, params), what="send()")

    def submit(self, prompt: str, **params: Any) -> ReplyHandle:
        """Start a reply in the background and return a handle at once."""
        _check_prompt(prompt)
        self._check_open()
        self._announce_fallback()
        return ReplyHandle(self, self._hub._loop.submit(self._reply(prompt, params)))

    async def stream(self, prompt: str, **params: Any) -> AsyncIterator[str]:
        """Yield the reply's text as it arrives (``async for text in s.stream("...")``)."""
        _check_prompt(prompt)
        self._check_open()
        self._announce_fallback()
        caller = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

        def on_delta(text: str) -> None:
            caller.call_soon_threadsafe(queue.put_nowait, text)

        future = self._hub._loop.submit(self._reply(prompt, params, on_delta=on_delta))

        def finished(fut: concurrent.futures.Future[Message]) -> None:
            error = None if fut.cancelled() else fut.exception()
            caller.call_soon_threadsafe(queue.put_nowait, error)

        future.add_done_callback(finished)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not future.done():
                self.cancel()

    def regenerate(self, **params: Any) -> Message:
        """Drop the last reply and ask again (also retries a failed reply)."""
        self._check_open()
        return self._hub._loop.run(self._reply(None, params), what="regenerate()")

    def submit_regenerate(self, **params: Any) -> ReplyHandle:
        """Like :meth:`regenerate`, in the background."""
        self._check_open()
        return ReplyHandle(self, self._hub._loop.submit(self._reply(None, params)))

    def cancel(self, wait: float = 5.0) -> bool:
        """Stop the reply in flight, keeping its partial text as ``stopped``. Returns whether one was
        running. Waits up to ``wait`` seconds for the stopped reply to be stored."""
        if self._hub._loop.in_loop_thread():
            return self._stop()

        async def stop() -> bool:  # queued after any reply submitted before, so it sees that reply
            outer = self._outer_task
            if outer is None or not self._stop():
                return False
            await asyncio.wait([outer])
            return True

        try:
            return self._hub._loop.submit(stop()).result(wait)
        except concurrent.futures.TimeoutError:
            return True

    # -- settings -------------------------------------------------------------------------------
    def switch_model(self, model: str, reason: str | None = None) -> ModelSwitch:
        """Use ``model`` from the next reply on, keeping the whole history; the switch is logged."""
        self._check_open()
        self._hub.resolve_model(model, strict=True)
        return self._hub._loop.call(self._switch, model, reason)

    def _switch(self, model: str, reason: str | None) -> ModelSwitch:
        switch = ModelSwitch(self.id, self._record.model, model, len(self._messages), reason)
        self._record = self._record.with_(model=model, updated_at=now())
        self._switches.append(switch)
        self._hub._store.defer(self._hub._store.update_session, self._record)
        self._hub._store.defer(self._hub._store.add_switch, switch)
        self._emit(EventKind.MODEL_SWITCHED, switch.to_dict())
        self._warned.clear()
        self._announce_fallback()
        return switch

    def configure(self, *, system_prompt: str | None = None, **params: Any) -> None:
        """Set per-session ``system_prompt``, ``temperature`` or ``max_tokens`` (persisted)."""
        self._check_open()
        unknown = set(params) - set(_PARAMS)
        if unknown:
            raise AiSessionsError(f"unknown parameter(s): {', '.join(sorted(unknown))}",
                                  hint=f"settable: system_prompt, {', '.join(_PARAMS)}")
        check_params(params)

        def apply() -> None:
            changes: dict[str, Any] = {"params": {**self._record.params, **params}, "updated_at": now()}
            if system_prompt is not None:
                changes["system_prompt"] = system_prompt
            self._record = self._record.with_(**changes)
            self._hub._store.update_session(self._record)
            self._emit(EventKind.SESSION_UPDATED, {"params": self._record.params,
                                                   "system_prompt": self._record.system_prompt})

        self._hub._loop.call(apply)

    # -- lifecycle ------------------------------------------------------------------------------
    def clear(self) -> None:
        """Delete this session's messages (the session and its settings stay)."""
        self._check_open()
        if self._hub._loop.in_loop_thread() and self._status is SessionStatus.STREAMING:
            raise SessionBusy(f"session {self.name!r} cannot be cleared from an event callback while it replies",
                              hint="call session.cancel() there and clear once the reply has ended")
        self.cancel()

        def apply() -> None:
            if self._status is SessionStatus.STREAMING:  # the provider did not stop within cancel()'s wait
                raise SessionBusy(f"session {self.name!r} is still stopping its reply; nothing was cleared")
            self._hub._store.delete_messages(self.id)
            self._messages.clear()
            self._emit(EventKind.SESSION_UPDATED, {"cleared": True})

        self._hub._loop.call(apply)

    def fork(self, at: int | None = None, name: str | None = None) -> Session:
        """A new session holding a copy of the first ``at`` messages (all by default)."""
        return self._hub._fork(self, at, name)

    def close(self) -> None:
        """Stop any reply and release live resources; the history stays in the store."""
        self._hub.close(self.id)

    def export(self, format: str = "markdown") -> str:
        """This session as ``"markdown"`` or ``"json"`` (importable with ``hub.import_session``)."""
        return export_mod.export_session(self._record, list(self._messages), list(self._switches), format)

    def chat(self) -> Any:
        """A chat widget bound to this session (show it as a cell's value)."""
        from .widgets import ChatWidget

        return ChatWidget(session=self)

    def open_tab(self) -> Any:
        """Open this session as a JupyterLab main-area tab."""
        from .widgets import open_tab

        return open_tab(self)

    # -- batch ------------------------------------------------------------------------------------
    def map(self, template: str, items: Any, *, concurrency: int = 4, include_history: bool = False,
            attempts: int | None = None, progress: bool = True, **params: Any) -> Any:
        """Run ``template`` (e.g. ``"Classify: {text}"``) over a list, a pandas Series or a DataFrame's rows
        as independent requests, ``concurrency`` at a time, with retries and an inline progress bar.
        Returns the replies in input order (None for a failed item): a list, or a Series for pandas input
        (details in ``.attrs["batch"]``: ``failures``, ``retry()``). Items do not enter the history.

        >>> s.map("Sentiment of: {text}", ["great", "awful"])      # doctest: +SKIP
        """
        from .batch import map_items

        return map_items(self, template, items, concurrency=concurrency, include_history=include_history,
                         attempts=attempts, progress=progress, **params)

    def submit_map(self, template: str, items: Any, *, concurrency: int = 4, include_history: bool = False,
                   attempts: int | None = None, **params: Any) -> Any:
        """Like :meth:`map`, in the background: returns a ``BatchHandle`` (``result()``, ``cancel()``,
        ``progress``)."""
        from .batch import submit_items

        return submit_items(self, template, items, concurrency=concurrency, include_history=include_history,
                            attempts=attempts, **params)

    # -- internals ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._status is SessionStatus.CLOSED:
            raise SessionClosed(f"session {self.name!r} is closed")

    def _announce_fallback(self) -> None:
        model, reason = self._hub.resolve_model(self._record.model)
        if reason and reason not in self._warned:
            self._warned.add(reason)
            self._hub._notify_fallback(self, model, reason)

    def _emit(self, kind: EventKind, payload: dict[str, Any]) -> None:
        self._hub._emit(Event(kind, self.id, payload))

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
        extra = {k: v for k, v in merged.items() if k not in (*_PARAMS, "system_prompt")}
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
        unsent: list[str] = []
        loop = asyncio.get_running_loop()

        def send_deltas() -> None:
            if not unsent:
                return
            text, pieces = "".join(unsent), len(unsent)
            unsent.clear()
            self._emit(EventKind.RESPONSE_DELTA, {"message_id": reply.id, "text": text, "pieces": pieces})
            if on_delta is not None:
                on_delta(text)

        def on_text(text: str) -> None:
            nonlocal last_checkpoint
            parts.append(text)
            unsent.append(text)
            if len(unsent) == 1:
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
