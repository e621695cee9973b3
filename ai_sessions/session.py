"""A chat session: its history, model and parameters, and the public send / stream / cancel API.

State is owned by the hub loop: public methods called from a cell hand work to that loop. Each turn is a
:class:`~ai_sessions.reply.Reply`; the session only knows whether one is live.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from . import export as export_mod
from .attachments import check_attachments
from .auto import AUTO, AutoChooser, last_model
from .branching import BranchOps
from .catalogue import warn_fallback
from .checks import PARAMS, check_params, check_part, check_reply_options, check_text
from .context import with_context
from .conversation import Conversation
from .errors import AiSessionsError, SessionBusy, SessionClosed
from .model import Event, EventKind, Message, ModelSwitch, SessionRecord, SessionStatus, Usage, now, total_cost
from .parts import Part, as_parts
from .providers.base import ChatRequest, ChatTurn
from .reply import Reply, TurnSpec, with_attachments
from .structured import format_of, prepare_output
from .tools import Approver, ToolBox, ToolExecutor
from .tree import Branch

if TYPE_CHECKING:
    from .hub import SessionHub
    from .runtime import Runtime

log = logging.getLogger(__name__)
class SessionOwner(Protocol):
    """What a session asks of its hub (the hub's public API)."""

    def close(self, name_or_id: str) -> None: ...

    def fork(self, name_or_id: str, at: int | None = None, name: str | None = None) -> Session: ...


def prompt_parts(prompt: Any) -> tuple[Part, ...]:
    """The parts of a prompt given as text or parts; refuses an empty one with a hint."""
    if isinstance(prompt, str):
        check_text(prompt, "the prompt")
        if prompt.strip():
            return as_parts(prompt)
    elif isinstance(prompt, Sequence) and prompt and all(hasattr(p, "kind") for p in prompt):
        for part in prompt:
            check_part(part, "the prompt")
        return tuple(prompt)
    got = "an empty prompt" if isinstance(prompt, str) else f"a {type(prompt).__name__}"
    raise AiSessionsError(f"the prompt must be non-empty text, not {got}",
                          hint="e.g. s.send(f\"Describe this table:\\n{df.head().to_string()}\")")


class ReplyHandle:
    """A reply running in the background (from :meth:`Session.submit`)."""

    def __init__(self, session: Session, reply: Reply, future: concurrent.futures.Future[Message]) -> None:
        self.session = session
        self.reply = reply
        self._future = future

    def result(self, timeout: float | None = None) -> Message:
        """Wait for the reply; raises the provider error if it failed."""
        loop = self.session.runtime.loop
        if not self._future.done():
            loop.refuse_wait("ReplyHandle.result()")
        if threading.current_thread() is threading.main_thread():
            return loop.main.serve(self._future, timeout)  # main-thread tools run while we wait
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()

    def add_done_callback(self, fn: Any) -> None:
        """Call ``fn(future)`` when the reply has ended (from the hub thread)."""
        self._future.add_done_callback(fn)

    def cancel(self, wait: float = 5.0) -> bool:
        """Stop this reply (no other); its partial text is kept as ``stopped``. Returns whether it was
        still running. Waits up to ``wait`` seconds for the stopped reply to be stored."""
        loop = self.session.runtime.loop
        if loop.in_loop_thread():
            return self.reply.stop()
        future = self._future

        async def stop() -> bool:
            if not self.reply.stop():
                return False
            await asyncio.wait([asyncio.wrap_future(future)])
            return True

        try:
            return loop.submit(stop()).result(wait)
        except concurrent.futures.TimeoutError:
            return True

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"<ReplyHandle session={self.session.name!r} {state}>"


class Session:
    """One isolated conversation. Get one with ``hub.session(name)``.

    >>> s = ai_sessions.hub().session("analysis")        # doctest: +SKIP
    >>> s.send("What is a p-value?").content             # doctest: +SKIP
    """

    def __init__(self, runtime: Runtime, owner: SessionOwner, record: SessionRecord,
                 conversation: Conversation) -> None:
        self._runtime = runtime
        self._owner = owner
        self._record = record
        self._conversation = conversation
        self._status = SessionStatus.IDLE
        self._reply: Reply | None = None
        self._task: asyncio.Task[Any] | None = None
        self._warned: set[str] = set()
        self._tools = ToolBox()
        self._branching = BranchOps(runtime, conversation, self._emit)

    # -- read-only views ----------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        """The hub's shared collaborators (loop, store, events, settings, models)."""
        return self._runtime

    @property
    def hub(self) -> SessionHub:
        """The hub this session belongs to."""
        return self._owner  # type: ignore[return-value]

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
    def record(self) -> SessionRecord:
        """The session's stored identity and settings."""
        return self._record

    @property
    def model(self) -> str:
        """The model replies come from (after any fallback); ``"auto"`` for a session that picks per reply."""
        return self._runtime.catalogue.resolve(self._record.model)[0]

    @property
    def requested_model(self) -> str:
        """The model this session was asked to use (before fallback)."""
        return self._record.model

    @property
    def fallback_reason(self) -> str | None:
        """Why replies do not come from :attr:`requested_model`, or None."""
        return self._runtime.catalogue.resolve(self._record.model)[1]

    @property
    def system_prompt(self) -> str | None:
        return self._record.system_prompt

    @property
    def params(self) -> dict[str, Any]:
        """Per-session parameters (temperature, max_tokens) over the global defaults."""
        return dict(self._record.params)

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(self._conversation.messages)

    @property
    def model_switches(self) -> tuple[ModelSwitch, ...]:
        return tuple(self._conversation.switches)

    @property
    def status(self) -> SessionStatus:
        return self._status

    @property
    def tools(self) -> ToolBox:
        """The tools the model may call in this session's replies (``s.tools.add(fn)``)."""
        return self._tools

    @property
    def live_reply(self) -> Reply | None:
        """The reply in flight, or None."""
        return self._reply

    @property
    def usage(self) -> Usage:
        """Tokens in/out summed over this session's replies."""
        return Usage.total(message.usage for message in self._conversation.messages)

    @property
    def cost(self) -> float | None:
        """Summed cost in USD of the replies whose price is known (None if none is)."""
        return total_cost(message.cost for message in self._conversation.messages)

    def __repr__(self) -> str:
        return (f"<Session {self.name!r} model={self.model!r} messages={len(self._conversation.messages)} "
                f"status={self._status.value}>")

    # -- conversation ---------------------------------------------------------------------------------
    def send(self, prompt: str | Sequence[Part], *, context: Sequence[Any] | None = None,
             approve: Approver | None = None, **params: Any) -> Message:
        """Send ``prompt`` and wait for the whole reply. Interrupting the kernel stops the reply
        (its partial text is kept as ``stopped``). Raises :class:`ProviderError` on failure.

        ``context``: kernel objects to attach (DataFrames, arrays, figures, images, file paths; see
        :mod:`ai_sessions.context`). ``approve``: ``approve(call) -> bool`` for tools whose approval is
        ``"ask"`` (without it, and with no chat showing the session, such calls are denied).
        ``params``: ``temperature``, ``max_tokens``, ``system_prompt`` for this reply only, ``tool_choice``
        (``"required"`` or a tool's name), and ``extra={...}`` for provider-specific request fields.
        Anything else is refused by name."""
        reply = self._prepare(self._message_parts(prompt, context), params, approve=approve)
        return self._runtime.loop.run(self._run(reply), what="send()")

    def submit(self, prompt: str | Sequence[Part], *, context: Sequence[Any] | None = None,
               approve: Approver | None = None, **params: Any) -> ReplyHandle:
        """Start a reply in the background and return a handle at once (arguments as :meth:`send`)."""
        reply = self._prepare(self._message_parts(prompt, context), params, approve=approve)
        return ReplyHandle(self, reply, self._runtime.loop.submit(self._run(reply)))

    async def stream(self, prompt: str | Sequence[Part], *, context: Sequence[Any] | None = None,
                     approve: Approver | None = None, **params: Any) -> AsyncIterator[str]:
        """Yield the reply's text as it arrives (``async for text in s.stream("...")``)."""
        caller = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

        def on_delta(text: str) -> None:
            caller.call_soon_threadsafe(queue.put_nowait, text)

        reply = self._prepare(self._message_parts(prompt, context), params, on_delta=on_delta, approve=approve)
        future = self._runtime.loop.submit(self._run(reply))

        def finished(fut: concurrent.futures.Future[Message]) -> None:
            error = None if fut.cancelled() else fut.exception()
            caller.call_soon_threadsafe(queue.put_nowait, error)

        future.add_done_callback(finished)
        handle = ReplyHandle(self, reply, future)
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
                handle.cancel()

    def regenerate(self, *, at: int | None = None, approve: Approver | None = None, **params: Any) -> Message:
        """Ask again for the last reply (or the reply at position ``at`` of :attr:`messages`). The reply it
        replaces stays as another branch (see :attr:`branches`); a failed or empty one is simply replaced,
        so this also retries a failed reply."""
        reply = self._prepare(None, params, approve=approve, branch_at=self._regenerate_at(at))
        return self._runtime.loop.run(self._run(reply), what="regenerate()")

    def submit_regenerate(self, *, at: int | None = None, approve: Approver | None = None,
                          **params: Any) -> ReplyHandle:
        """Like :meth:`regenerate`, in the background."""
        reply = self._prepare(None, params, approve=approve, branch_at=self._regenerate_at(at))
        return ReplyHandle(self, reply, self._runtime.loop.submit(self._run(reply)))

    # -- branches (see ai_sessions.branching) ----------------------------------------------------------
    def edit(self, index: int, text: str, *, approve: Approver | None = None, **params: Any) -> Message:
        """Ask again from your message ``index`` of :attr:`messages`, with ``text`` instead (its attachments
        and ``context=`` descriptions kept), and wait for the reply. What came after it is not lost: it stays
        as another branch.

        >>> s.edit(0, "What is a p-value, in one sentence?")      # doctest: +SKIP
        """
        reply = self._prepare(self._edited(index, text), params, approve=approve, branch_at=index)
        return self._runtime.loop.run(self._run(reply), what="edit()")

    def submit_edit(self, index: int, text: str, *, approve: Approver | None = None, **params: Any) -> ReplyHandle:
        """Like :meth:`edit`, in the background."""
        reply = self._prepare(self._edited(index, text), params, approve=approve, branch_at=index)
        return ReplyHandle(self, reply, self._runtime.loop.submit(self._run(reply)))

    @property
    def branches(self) -> list[Branch]:
        """Every branch of this session (``.id``, ``.diverges_at``, ``.length``, ``.current``), oldest first."""
        return self._branching.branches()

    @property
    def branch(self) -> str | None:
        """The current branch's id (the id of its last message); None for an empty session."""
        return self._branching.current()

    def checkout(self, branch_id: str) -> None:
        """Make branch ``branch_id`` the current one: :attr:`messages` and the history sent to the model
        become its messages. Any message id works too: the newest branch through that message is shown
        (so a branch that grew since its id was read is still found)."""
        self.check_open()
        self._runtime.loop.call(self._idle_then, self._branching.checkout, branch_id)

    def delete_message(self, index: int) -> None:
        """Delete message ``index`` of :attr:`messages` (your message with its reply). The model never sees
        it again, what followed stays, and its text leaves the store's files as after :meth:`clear`."""
        self.check_open()
        self._runtime.loop.call(self._idle_then, self._branching.delete, index)
        self._runtime.store.purge()  # off the hub loop, as for clear()

    def cancel(self, wait: float = 5.0) -> bool:
        """Stop the reply in flight, keeping its partial text as ``stopped``. Returns whether one was
        running. Waits up to ``wait`` seconds for the stopped reply to be stored."""
        loop = self._runtime.loop
        if loop.in_loop_thread():
            return self._reply.stop() if self._reply is not None else False

        async def stop() -> bool:  # queued after any reply submitted before, so it sees that reply
            reply, task = self._reply, self._task
            if reply is None or task is None or not reply.stop():
                return False
            await asyncio.wait([task])
            return True

        try:
            return loop.submit(stop()).result(wait)
        except concurrent.futures.TimeoutError:
            return True

    # -- settings -------------------------------------------------------------------------------------
    def switch_model(self, model: str, reason: str | None = None) -> ModelSwitch | None:
        """Use ``model`` from the next reply on, keeping the whole history; the switch is logged and
        returned. Asking for the model the session already uses changes nothing and returns None."""
        self.check_open()
        self._runtime.catalogue.resolve(model, strict=True)
        if reason is not None:
            check_text(reason, "the reason")
        switch = self._runtime.loop.call(self._switch, model, reason)
        if switch is not None:
            self.announce_fallback()  # on the caller's thread, so a warning points at the caller's line
        return switch

    def _switch(self, model: str, reason: str | None) -> ModelSwitch | None:
        if model == self._record.model:
            return None
        messages = self._conversation.messages
        switch = ModelSwitch(self.id, self._record.model, model, len(messages), reason,
                             after_id=messages[-1].id if messages else None)
        self._record = self._record.with_(model=model, updated_at=now())
        store = self._runtime.store
        store.defer(store.update_session, self._record)
        self._log_switch(switch)
        self._warned.clear()
        return switch

    def _log_switch(self, switch: ModelSwitch) -> None:
        """(hub loop) Record ``switch`` in the conversation and the store, and emit ``model.switched``."""
        self._conversation.switches.append(switch)
        store = self._runtime.store
        store.defer(store.add_switch, switch)
        self._emit(EventKind.MODEL_SWITCHED, switch.to_dict())

    def _auto_switch(self, from_model: str, to_model: str, reason: str, message_index: int) -> None:
        """(hub loop) A reply of a model="auto" session chose or failed over to ``to_model``: logged like any
        switch, while the session's requested model stays "auto"."""
        messages = self._conversation.messages
        after = messages[message_index - 1].id if 0 < message_index <= len(messages) else None
        self._log_switch(ModelSwitch(self.id, from_model, to_model, message_index, reason, after_id=after))

    def use_agent(self, name: str) -> None:
        """Apply the ``[agents.NAME]`` preset of the settings to this session: its model, system prompt,
        parameters and tools (added to the session's own). The chat's selector offers agents this way.

        >>> s.use_agent("analyst")                      # doctest: +SKIP
        """
        from .agents import find_agent, resolve_tools

        settings = self._runtime.settings
        agent = find_agent(settings, name)
        tools = resolve_tools(agent, settings, self.hub.mcp)  # a bad tool name fails before anything changes
        params = {k: v for k, v in agent.params.items() if k in PARAMS}
        if agent.system_prompt is not None or params:
            self.configure(system_prompt=agent.system_prompt, **params)
        if agent.model:
            self.switch_model(agent.model, reason=f"agent {name}")
        self._tools.add(tools)

    def configure(self, *, model: str | None = None, system_prompt: str | None = None, **params: Any) -> None:
        """Set per-session ``system_prompt``, ``temperature`` or ``max_tokens`` (persisted; ``None`` for a
        parameter goes back to the inherited default, ``system_prompt=""`` too), and switch to ``model``."""
        self.check_open()
        unknown = set(params) - set(PARAMS)
        if unknown:
            raise AiSessionsError(f"unknown parameter(s): {', '.join(sorted(unknown))}",
                                  hint=f"settable: model, system_prompt, {', '.join(PARAMS)}")
        check_params({**params, "system_prompt": system_prompt})
        if model is not None:
            self.switch_model(model, reason="session settings")

        def apply() -> None:
            kept = {k: v for k, v in {**self._record.params, **params}.items() if v is not None}
            changes: dict[str, Any] = {"params": kept, "updated_at": now()}
            if system_prompt is not None:
                changes["system_prompt"] = system_prompt
            self._record = self._record.with_(**changes)
            self._runtime.store.update_session(self._record)
            self._emit(EventKind.SESSION_UPDATED, {"params": self._record.params,
                                                   "system_prompt": self._record.system_prompt})

        self._runtime.loop.call(apply)

    # -- lifecycle ------------------------------------------------------------------------------------
    def clear(self) -> None:
        """Delete this session's messages and model switches (the session and its settings stay). Their
        text leaves the store's files too (nothing kept in events, free pages or the WAL)."""
        self.check_open()
        loop = self._runtime.loop
        if loop.in_loop_thread() and self._status is SessionStatus.STREAMING:
            raise SessionBusy(f"session {self.name!r} cannot be cleared from an event callback while it replies",
                              hint="call session.cancel() there and clear once the reply has ended")
        self.cancel()

        def apply() -> None:
            if self._status is SessionStatus.STREAMING:  # the provider did not stop within cancel()'s wait
                raise SessionBusy(f"session {self.name!r} is still stopping its reply; nothing was cleared")
            self._runtime.store.clear_session(self.id, False)
            self._conversation.messages.clear()
            self._conversation.switches.clear()
            self._emit(EventKind.SESSION_UPDATED, {"cleared": True})

        loop.call(apply)
        self._runtime.store.purge()  # off the hub loop: merging a large search index takes a moment

    def fork(self, at: int | None = None, name: str | None = None) -> Session:
        """A new session holding a copy of the first ``at`` messages (all by default)."""
        return self._owner.fork(self.id, at, name)

    def close(self) -> None:
        """Stop any reply and release live resources; the history stays in the store."""
        self._owner.close(self.id)

    def export(self, format: str = "markdown") -> str:
        """This session as ``"markdown"`` or ``"json"`` (importable with ``hub.import_session``)."""
        store = self._runtime.store
        if format != "json":  # for reading: the current branch
            return export_mod.export_session(self._record, list(self._conversation.messages),
                                             list(self._conversation.switches), format)
        messages, head = store.load_all_messages(self.id)  # every branch, to import whole
        return export_mod.export_session(self._record, store.with_blob_data(messages),
                                         list(self._conversation.switches), format, head=head)

    def chat(self) -> Any:
        """A chat widget bound to this session (show it as a cell's value). The one documented upward
        import: the widgets layer is loaded on first use."""
        from .widgets import ChatWidget

        return ChatWidget(session=self)

    def timeline(self) -> Any:
        """This session's events as a pandas DataFrame, one row per event (requests, retries, failovers,
        replies' ends, model switches, tool calls) with timing, tokens, cost and reasons; built from the
        store, so it is the same after a restart. Columns: docs/inspector.md.

        >>> s.timeline()[["time", "kind", "model", "first_token_s", "cost"]]      # doctest: +SKIP
        """
        from .timeline import session_frame

        return session_frame(self._runtime.store, self.id)

    def inspect(self) -> Any:
        """The inspector widget: this session's timeline as a picture, live while it replies, with totals
        per model (see :meth:`chat` about the import)."""
        from .widgets import InspectorWidget

        return InspectorWidget(session=self)

    def open_tab(self) -> Any:
        """Open this session as a JupyterLab main-area tab (see :meth:`chat` about the import)."""
        from .widgets import open_tab

        return open_tab(self)

    # -- batch ----------------------------------------------------------------------------------------
    def map(self, template: str, items: Any, *, concurrency: int = 4, include_history: bool = False,
            attempts: int | None = None, progress: bool = True, schema: Any = None, mode: str = "live",
            dry_run: bool = False, **params: Any) -> Any:
        """Run ``template`` (e.g. ``"Classify: {text}"``) over a list, a pandas Series or a DataFrame's rows
        as independent requests, ``concurrency`` at a time, with retries and an inline progress bar.
        Returns the replies in input order (None for a failed item): a list, or a Series for pandas input
        (details in ``.attrs["batch"]``: ``failures``, ``retry()``). Items do not enter the history.

        ``schema=Review`` (a pydantic model, TypedDict, dataclass or JSON Schema dict): each reply is
        validated, and the result is a DataFrame with one column per field plus ``status`` and ``error``
        (a list of ``Review`` objects for a list input). ``mode="batch"``: one job through the provider's
        Batch API (about half the price; it may take up to 24 h; an interrupt stops the waiting, not the
        job: ``hub.jobs()``). ``dry_run=True``: the :class:`~ai_sessions.estimate.Estimate` of tokens and
        cost, nothing sent. Every map is kept as a job in the store (docs/batch.md).

        >>> s.map("Sentiment of: {text}", ["great", "awful"])      # doctest: +SKIP
        >>> s.map("Review: {text}", df["review"], schema=Review, mode="batch")   # doctest: +SKIP
        """
        from .batch import map_items

        return map_items(self, template, items, concurrency=concurrency, include_history=include_history,
                         attempts=attempts, progress=progress, schema=schema, mode=mode, dry_run=dry_run, **params)

    def submit_map(self, template: str, items: Any, *, concurrency: int = 4, include_history: bool = False,
                   attempts: int | None = None, schema: Any = None, mode: str = "live", **params: Any) -> Any:
        """Like :meth:`map`, in the background: returns a ``BatchHandle`` (``result()``, ``cancel()``,
        ``progress``), or for ``mode="batch"`` the :class:`~ai_sessions.jobs.Job` (``wait()``,
        ``results()``, ``cancel()``)."""
        from .batch import submit_items

        return submit_items(self, template, items, concurrency=concurrency, include_history=include_history,
                            attempts=attempts, schema=schema, mode=mode, **params)

    # -- for replies, batch runs and front ends -----------------------------------------------------------
    def make_request(self, model: str, turns: tuple[ChatTurn, ...], params: dict[str, Any]) -> ChatRequest:
        """The request for ``turns`` with this session's system prompt and parameters over the defaults,
        overridden by ``params`` (already checked)."""
        defaults = self._runtime.settings.defaults
        merged = {"temperature": defaults.temperature, "max_tokens": defaults.max_tokens,
                  **self._record.params, **{k: v for k, v in params.items() if k in PARAMS}}
        system = params.get("system_prompt", self._record.system_prompt or defaults.system_prompt)
        return ChatRequest(model=model, turns=turns, system=system, temperature=merged["temperature"],
                           max_tokens=merged["max_tokens"], extra=dict(params.get("extra") or {}),
                           response_format=format_of(params))

    async def history(self) -> tuple[ChatTurn, ...]:
        """(hub loop) The turns a reply would send now, attachments loaded (batch runs with history)."""
        return await with_attachments(self._runtime.store, self._conversation.turns())

    def check_open(self) -> None:
        """Raise :class:`SessionClosed` if this session was closed or deleted."""
        if self._status is SessionStatus.CLOSED:
            raise SessionClosed(f"session {self.name!r} is closed")

    def announce_fallback(self) -> None:
        """Warn once per reason when another model answers than the one asked for (S4)."""
        model, reason = self._runtime.catalogue.resolve(self._record.model)
        if reason and reason not in self._warned:
            self._warned.add(reason)
            warn_fallback(self.name, model, reason)
            self._emit(EventKind.SESSION_UPDATED, {"fallback": {"model": model, "reason": reason}})

    def mark_closed(self) -> None:
        """(hub) This session is closed: later calls raise :class:`SessionClosed`."""
        self._status = SessionStatus.CLOSED

    # -- internals ------------------------------------------------------------------------------------
    def _prepare(self, prompt: tuple[Part, ...] | None, params: dict[str, Any], on_delta: Any = None,
                 approve: Approver | None = None, branch_at: int | None = None) -> Reply:
        """Check everything on the caller's thread, before anything is sent or stored."""
        tool_choice = params.pop("tool_choice", None)
        check_reply_options(params)
        self.check_open()
        if approve is not None and not callable(approve):
            raise AiSessionsError(f"approve must be a function of the call, not a {type(approve).__name__}",
                                  hint="e.g. approve=lambda call: call.name != 'run_python'")
        if tool_choice is not None and tool_choice != "required" and tool_choice not in self._tools:
            raise AiSessionsError(f"tool_choice {tool_choice!r} names no tool of this session",
                                  hint=f"use 'required' or one of: {', '.join(self._tools.names()) or 'no tools'}")
        output = prepare_output(params, self._runtime.catalogue, self.model)  # schema=...: checked here
        self.announce_fallback()
        if prompt is not None:
            self._check_capabilities(prompt)
        tools = None
        if self._tools:
            tools = ToolExecutor(self._tools, self._runtime.approvals, self._runtime.loop.main,
                                 lambda kind, payload: self._emit(kind, payload), self.id, approve,
                                 self._runtime.settings.tools.timeout_s)
        spec = TurnSpec(prompt, lambda model, turns: self.make_request(model, turns, params), self._record.model,
                        branch_at=branch_at, on_delta=on_delta, tools=tools, tool_choice=tool_choice,
                        max_rounds=self._runtime.settings.tools.max_rounds, on_no_tools=self._warn_no_tools,
                        output=output)
        if self._record.model == AUTO:  # picks the model per reply (ai_sessions.auto)
            spec.chooser = AutoChooser(self._runtime.settings, self._runtime.catalogue,
                                       last_model(self._conversation.switches, AUTO))
            spec.on_switch = self._auto_switch
        return Reply(self._runtime, self._conversation, self.name, spec)

    def _message_parts(self, prompt: Any, context: Sequence[Any] | None) -> tuple[Part, ...]:
        """The prompt's parts, then a description of each ``context`` object (built now)."""
        return with_context(prompt_parts(prompt), context, self._runtime.settings.context.max_chars)

    def _check_capabilities(self, parts: tuple[Part, ...]) -> None:
        """Refuse, before anything is sent, what the model that would answer cannot take."""
        model = self.model
        if model == AUTO:  # each candidate is checked when it is chosen
            return
        check_attachments(parts, self._runtime.catalogue.capabilities(model), model)

    def _edited(self, index: int, text: str) -> tuple[Part, ...]:
        check_text(text, "the edited message")
        parts = self._branching.edit_parts(index, text)
        if not parts:
            raise AiSessionsError("the edited message is empty", hint="write the question again, or delete the "
                                  "message with s.delete_message(index)")
        return parts

    def _regenerate_at(self, at: int | None) -> int | None:
        return None if at is None else self._branching.reply_position(at)

    def _idle_then(self, fn: Any, *args: Any) -> Any:
        """(hub loop) ``fn(*args)`` unless a reply is in flight (its messages must not change under it)."""
        if self._reply is not None:
            raise SessionBusy(f"session {self.name!r} is replying", hint="stop the reply first (s.cancel())")
        return fn(*args)

    def _warn_no_tools(self, model: str) -> None:
        reason = f"{model} cannot call tools, so the session's tools are not offered to it"
        if reason not in self._warned:
            self._warned.add(reason)
            log.warning("session %r: %s", self.name, reason)
            self._emit(EventKind.SESSION_UPDATED, {"notice": reason})

    async def _run(self, reply: Reply) -> Message:
        """(hub loop) Run ``reply`` as this session's turn: refused while another reply is live."""
        if self._reply is not None:
            reply.finished = True
            raise SessionBusy(f"session {self.name!r} is already replying")
        self.check_open()
        self._reply, self._task = reply, asyncio.current_task()
        self._status = SessionStatus.STREAMING
        try:
            return await reply.run()
        finally:
            self._reply = self._task = None
            if self._status is SessionStatus.STREAMING:
                self._status = SessionStatus.IDLE
            # the reply's final events go out once the session is idle, so a listener can send at once
            for event in reply.final_events:
                self._runtime.emit(event)

    def _emit(self, kind: EventKind, payload: dict[str, Any]) -> None:
        self._runtime.emit(Event(kind, self.id, payload))
