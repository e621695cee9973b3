"""A chat session: its history, model and parameters, and the send / stream / cancel machinery.

State is owned by the hub loop: public methods called from a cell hand work to that loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from . import export as export_mod
from .errors import AiSessionsError, SessionBusy, SessionClosed
from .model import (
    Event,
    EventKind,
    Message,
    ModelSwitch,
    SessionRecord,
    SessionStatus,
    Usage,
    now,
    total_cost,
)
from .reply import PARAMS as _PARAMS
from .reply import ReplyMachinery

if TYPE_CHECKING:
    from .hub import SessionHub

log = logging.getLogger(__name__)


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


class Session(ReplyMachinery):
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
        return Usage.total(message.usage for message in self._messages)

    @property
    def cost(self) -> float | None:
        """Summed cost in USD of the replies whose price is known (None if none is)."""
        return total_cost(message.cost for message in self._messages)

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
    def switch_model(self, model: str, reason: str | None = None) -> ModelSwitch | None:
        """Use ``model`` from the next reply on, keeping the whole history; the switch is logged and
        returned. Asking for the model the session already uses changes nothing and returns None."""
        self._check_open()
        self._hub.resolve_model(model, strict=True)
        switch = self._hub._loop.call(self._switch, model, reason)
        if switch is not None:
            self._announce_fallback()  # on the caller's thread, so a warning points at the caller's line
        return switch

    def _switch(self, model: str, reason: str | None) -> ModelSwitch | None:
        if model == self._record.model:
            return None
        switch = ModelSwitch(self.id, self._record.model, model, len(self._messages), reason)
        self._record = self._record.with_(model=model, updated_at=now())
        self._switches.append(switch)
        self._hub._store.defer(self._hub._store.update_session, self._record)
        self._hub._store.defer(self._hub._store.add_switch, switch)
        self._emit(EventKind.MODEL_SWITCHED, switch.to_dict())
        self._warned.clear()
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
