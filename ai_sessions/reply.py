"""One turn of a session, from storing the user message to storing the reply as complete, stopped or
failed: a :class:`Reply` holds the turn's task, stop flag, parts, checkpoints and final events (in the
spirit of simonw/llm's ``Response``), so a session with a reply in flight simply has a live Reply.

A reply runs in rounds on the hub loop: the model streams text and may ask for tool calls; the calls
run (with approval where asked) and their results go back to the model in the next round, until the
model answers without calling a tool or the round limit is reached. See docs/architecture.md, "A reply".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from .consume import consume
from .conversation import Conversation, reply_turns
from .errors import AiSessionsError, ProviderError, StoreError
from .model import Event, EventKind, Message, MessageStatus, Role, Usage, new_id, now
from .parts import Part, TextPart, ToolCallPart, ToolResultPart, binary_parts, map_binary
from .providers.base import ChatRequest, ChatTurn, Finished, ToolSpec
from .store import HEAD

if TYPE_CHECKING:
    from .runtime import Runtime
    from .schemas import OutputSchema

log = logging.getLogger(__name__)
CHECKPOINT_S = 2.0
#: Builds the request of one round: (model name without provider, the history's turns) -> request.
RequestBuilder = Callable[[str, tuple[ChatTurn, ...]], ChatRequest]


class ToolRunner(Protocol):
    """What a reply needs from the session's tools (see :class:`ai_sessions.tools.ToolExecutor`)."""

    async def specs(self) -> tuple[ToolSpec, ...]: ...

    async def execute(self, calls: tuple[ToolCallPart, ...], reply: Reply) -> tuple[ToolResultPart, ...]: ...


class ModelChooser(Protocol):
    """Picks the model per reply (``model="auto"``, see :mod:`ai_sessions.auto`). Its choices have ``model``,
    ``reason`` and ``switched_from`` (the model replaced in the switch log, or None)."""

    async def choose(self, reply: Reply) -> Any: ...

    async def fail_over(self, reply: Reply, error: ProviderError) -> Any: ...


#: Records a model switch in the session's log: (from, to, reason, message index).
SwitchRecorder = Callable[[str, str, str, int], None]


@dataclass
class TurnSpec:
    """What to ask: ``prompt`` parts (None: regenerate the last reply), per-reply parameters, and hooks.
    ``branch_at``: start a new branch after the first ``branch_at`` messages of the current one (an edited
    prompt; with no prompt, a new reply in place of the one at ``branch_at``)."""

    prompt: tuple[Part, ...] | None
    build_request: RequestBuilder
    requested_model: str
    branch_at: int | None = None
    on_delta: Callable[[str], None] | None = None
    tools: ToolRunner | None = None
    #: None (the model decides), "required" or a tool's name (that tool must be called in the first round).
    tool_choice: str | None = None
    max_rounds: int = 10
    #: Called once if the model cannot call tools, so the session's tools are not offered (a notice).
    on_no_tools: Callable[[str], None] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: model="auto": picks the model of this reply, and the next one if it fails before any text
    chooser: ModelChooser | None = None
    #: the session's switch log (the chooser's choices are recorded there)
    on_switch: SwitchRecorder | None = None
    #: structured output (``schema=``): the final round is validated, with one repair round
    output: OutputSchema | None = None


class Reply:
    """One turn. Create it (any thread), then :meth:`run` it on the hub loop; :meth:`stop` from the hub
    loop at any moment ends it ``stopped`` (a stop before it starts still stores the prompt)."""

    def __init__(self, runtime: Runtime, conversation: Conversation, session_name: str, spec: TurnSpec) -> None:
        self.runtime = runtime
        self.conversation = conversation
        self.session_name = session_name
        self.spec = spec
        self.id = new_id()  # the reply message's id
        self.message: Message | None = None  # the reply message as last stored/shown
        self.model = ""
        self.stop_requested = False
        self.finished = False
        self.final_events: list[Event] = []
        self._finishing = False
        self._inner: asyncio.Future[Finished] | None = None
        self._parts: list[Part] = []  # parts of finished rounds and tool calls
        self._text: list[str] = []  # text of the round in progress, in pieces
        self._usage = Usage()
        self._pieces = 0
        self._sent = 0  # pieces of the current round already sent as delta events
        self._last_checkpoint = 0.0
        self._started = 0.0
        self._request_started = 0.0
        self._request_attempts = 0  # attempts made before the current model was asked
        self._first_token: float | None = None
        self._attempts = 0
        self._retry_wait = 0.0
        self._rounds = 0
        self._keep: int | None = None  # messages of the current branch this reply follows, once known
        #: set while waiting for tools or approval (for progress displays): {"state": ..., "tool": ...}
        self.activity: dict[str, Any] = {}

    @property
    def session_id(self) -> str:
        return self.conversation.session_id

    @property
    def done(self) -> bool:
        return self.finished

    # -- control (hub loop) ---------------------------------------------------------------------------
    def stop(self) -> bool:
        """Ask this reply to stop; True means it will end ``stopped`` (its text so far kept). Before the
        stream starts this only sets a flag (the prompt and an empty reply are stored, then the reply ends
        ``stopped``). False if it has ended, or its final state is already being stored (too late: it
        finishes as it is)."""
        if self.finished or self._finishing:
            return False
        self.stop_requested = True
        if self._inner is not None and not self._finishing:
            self._inner.cancel()
        return True

    async def run(self) -> Message:
        """Run the turn; returns the reply message (``stopped`` if it was stopped). Cancelling the task
        running this (a kernel interrupt) stops the reply, waits until it is stored, then propagates."""
        turn = asyncio.ensure_future(self._turn())
        try:
            return await asyncio.shield(turn)
        except asyncio.CancelledError:
            self.stop()
            await asyncio.gather(turn, return_exceptions=True)
            raise

    @property
    def history(self) -> list[Message]:
        """The messages of the current branch this reply follows: for an edit or a regeneration, those
        before the point it branches at (not what came after it)."""
        messages = self.conversation.messages
        return list(messages if self._keep is None else messages[:self._keep])

    # -- the turn -----------------------------------------------------------------------------------------
    async def _turn(self) -> Message:
        store = self.runtime.store
        self._started = self._last_checkpoint = time.monotonic()
        path = self.conversation.messages
        user: Message | None = None
        if self.spec.prompt is None:
            keep = await self._regenerate_at()
        else:
            keep = len(path) if self.spec.branch_at is None else self.spec.branch_at
            user = Message(new_id(), self.session_id, 0, Role.USER, self.spec.prompt)
        self._keep = keep
        unanswerable = await self._choose_model()
        reply = Message(self.id, self.session_id, 0, Role.ASSISTANT, (), model=self.model,
                        status=MessageStatus.STREAMING)
        # the prompt and the empty reply in one transaction: a kill between them cannot split them. They
        # follow the first `keep` messages: a new branch there when messages came after (kept in the store).
        # A plain send follows the stored head instead, so two kernels sending to one session interleave
        # on one branch (as they did before branches) rather than each growing its own.
        parent = path[keep - 1].id if keep else None
        if user is not None and self.spec.branch_at is None:
            parent = HEAD
        user, reply = await asyncio.wrap_future(store.defer(store.append_turn, user, reply, parent))
        if keep < len(path):  # a new branch: the switches logged after its branch point belong to the old one
            on_branch = {m.id for m in path[:keep]}
            self.conversation.switches[:] = [s for s in self.conversation.switches
                                             if s.after_id is None or s.after_id in on_branch]
        del path[keep:]
        if user is not None:
            self.conversation.messages.append(user)
            self._emit(EventKind.MESSAGE_USER, user.to_dict())
        self.conversation.messages.append(reply)
        self.message = reply
        self._request_started = time.monotonic()
        self._emit(EventKind.REQUEST_STARTED, {"message_id": reply.id, "model": self.model, "seq": reply.seq})
        try:
            if self.stop_requested:  # stopped before the provider was asked
                raise asyncio.CancelledError
            if unanswerable is not None:  # model="auto" and no candidate can answer: the prompt is kept
                raise unanswerable
            self._inner = asyncio.ensure_future(self._rounds_loop())
            finished = await self._inner
            if self.stop_requested:  # stopped after the stream ended, before the final state: still a stop
                raise asyncio.CancelledError
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # never expected (run() shields this task); propagate rather than swallow
            return await self._finish(MessageStatus.STOPPED)
        except ProviderError as error:
            await self._finish(MessageStatus.FAILED, error=str(error), error_kind=error.kind)
            raise
        except AiSessionsError as error:
            await self._finish(MessageStatus.FAILED, error=str(error), error_kind="provider_error")
            raise
        except Exception as error:
            log.exception("provider %s failed unexpectedly", self.model)
            await self._finish(MessageStatus.FAILED, error=f"{type(error).__name__}: {error}",
                               error_kind="provider_error")
            raise ProviderError(f"{self.model} failed: {type(error).__name__}",
                                hint="see the log for details; regenerate to try again") from error
        return await self._finish(MessageStatus.COMPLETE, finish_reason=finished.finish_reason)

    async def _regenerate_at(self) -> int:
        """How many messages of the current branch a regenerated reply follows: those before the reply at
        ``branch_at``, by default up to the last prompt. What came after stays as another branch, unless it
        is only failed or empty replies: those hold nothing worth keeping and are replaced."""
        messages = self.conversation.messages
        at = self.spec.branch_at
        if at is None:
            prompts = [i for i, m in enumerate(messages) if m.role is Role.USER]
            if not prompts:
                raise AiSessionsError(f"session {self.session_name!r} has no message to reply to",
                                      hint="send a prompt first")
            at = prompts[-1] + 1
        tail = messages[at:]
        if tail and all(m.role is Role.ASSISTANT and (m.status is MessageStatus.FAILED or not m.parts) for m in tail):
            store = self.runtime.store
            head = messages[at - 1].id if at else None
            gone = [m.id for m in tail]
            await asyncio.wrap_future(store.defer(store.remove_messages, self.session_id, gone, head, False))
            store.defer(store.reanchor_switches, self.session_id, gone, head)  # e.g. a switch after a failure
            self.conversation.switches[:] = [replace(s, after_id=head, message_index=at) if s.after_id in gone else s
                                             for s in self.conversation.switches]
            del messages[at:]
        self._emit(EventKind.SESSION_UPDATED, {"regenerate": True})
        return at

    async def _rounds_loop(self) -> Finished:
        tools = self.spec.tools
        specs = await tools.specs() if tools is not None else ()
        while True:
            self._rounds += 1
            turns = await self._history()
            finished = await self._stream_round(turns, specs)
            self._close_text()
            if finished.usage is not None:
                self._usage = self._usage + finished.usage
            if not finished.tool_calls:
                if self.spec.output is not None:
                    finished = await self._settle_output(finished)
                return finished
            self._parts.extend(finished.tool_calls)
            if tools is None or self._rounds >= self.spec.max_rounds:
                why = ("the session has no tools" if tools is None
                       else f"the reply reached its limit of {self.spec.max_rounds} tool rounds")
                self._parts.extend(ToolResultPart(c.id, (TextPart(f"not run: {why}"),), True, c.name)
                                   for c in finished.tool_calls)
                return finished
            self._checkpoint()
            results = await tools.execute(finished.tool_calls, self)
            self._parts.extend(results)
            self._checkpoint()

    async def _stream_round(self, turns: tuple[ChatTurn, ...], specs: tuple[ToolSpec, ...]) -> Finished:
        """One round's stream from the reply's model, offering the session's tools ``specs`` if the model can
        call tools. With a chooser (model="auto"), a failure before any text of the reply moves it to the next
        usable candidate."""
        while True:
            provider_name, _, model = self.model.partition(":")
            try:
                provider = self.runtime.catalogue.provider(provider_name)
                await provider.prepare()
                request = self.spec.build_request(model, turns)
                if specs and provider.capabilities_for(model).tools:
                    choice = self.spec.tool_choice if self._rounds == 1 else None
                    request = replace(request, tools=specs, tool_choice=choice)
                elif specs and self.spec.on_no_tools is not None:
                    self.spec.on_no_tools(self.model)
                return await consume(provider, request, full_model=self.model, on_text=self._on_text,
                                     on_attempt=self._count_attempt, on_retry=self._on_retry)
            except ProviderError as error:
                if not await self._fail_over(error):
                    raise
            finally:
                self._end_burst()  # every delta event precedes the reply's final events

    # -- model="auto" ---------------------------------------------------------------------------------------
    async def _choose_model(self) -> AiSessionsError | None:
        """Set :attr:`model`: the chooser's pick (its switch logged), else the requested model after the
        fallback rules. Returns the error to fail the reply with when no candidate can answer."""
        chooser = self.spec.chooser
        if chooser is None:
            self.model, _ = self.runtime.catalogue.resolve(self.spec.requested_model)
            return None
        try:
            choice = await chooser.choose(self)
        except AiSessionsError as error:
            self.model = self.spec.requested_model
            return error
        self.model = choice.model
        self._log_switch(choice, self._keep if self._keep is not None else len(self.conversation.messages))
        return None

    async def _fail_over(self, error: ProviderError) -> bool:
        """After ``error`` on :attr:`model`, go on with the chooser's next candidate if nothing of this reply
        was shown yet: the failed request is an ``llm.request.failed`` event, the move a model switch."""
        chooser = self.spec.chooser
        if chooser is None or self._pieces or self._text or self._parts or self.stop_requested:
            return False
        failed = self.model
        choice = await chooser.fail_over(self, error)  # raises NoUsableModel when no candidate is left
        if choice is None:
            return False
        assert self.message is not None
        self._emit(EventKind.REQUEST_FAILED, {
            "message_id": self.id, "model": failed, "seq": self.message.seq, "error_kind": error.kind,
            "status_code": error.status_code, "error": error.message,
            "attempts": self._attempts - self._request_attempts,
            "elapsed": round(time.monotonic() - self._request_started, 3)})
        self.model = choice.model
        self._log_switch(choice, self.conversation.index_of(self.id))
        self.message = self.message.with_(model=self.model)
        self.conversation.replace(self.message)
        store = self.runtime.store
        store.defer(store.update_message, self.message)
        self._request_started, self._request_attempts = time.monotonic(), self._attempts
        self._emit(EventKind.REQUEST_STARTED, {"message_id": self.id, "model": self.model, "seq": self.message.seq})
        return True

    def _log_switch(self, choice: Any, message_index: int) -> None:
        if choice.switched_from is not None and choice.switched_from != choice.model and self.spec.on_switch:
            self.spec.on_switch(choice.switched_from, choice.model, choice.reason, message_index)

    # -- structured output (schema=...; see structured.py) --------------------------------------------------
    async def _settle_output(self, finished: Finished) -> Finished:
        """Validate the final round's text against ``spec.output`` and add the structured part; one repair
        round (shown the validation error) when it does not match, then :class:`InvalidOutput`."""
        from .structured import settle

        assert self.spec.output is not None
        last = self._parts[-1] if self._parts and isinstance(self._parts[-1], TextPart) else None

        async def repair(prompt: str) -> str:
            nonlocal last, finished
            self._rounds += 1
            turns = (*await self._history(), ChatTurn("user", prompt))
            finished = await self._stream_round(turns, ())  # no tools: the answer itself is repaired
            if last is not None:  # the repaired reply replaces the one that did not match
                self._parts = [p for p in self._parts if p is not last]
            self._close_text()
            if finished.usage is not None:
                self._usage = self._usage + finished.usage
            last = self._parts[-1] if self._parts and isinstance(self._parts[-1], TextPart) else None
            return last.text if last is not None else ""

        settled = await settle(self.spec.output, last.text if last is not None else "", repair,
                               provider=self.model)
        self._parts.append(settled.part)
        return finished

    async def _history(self) -> tuple[ChatTurn, ...]:
        """Earlier turns plus this reply's own rounds so far, with attachments' bytes loaded."""
        turns = [*self.conversation.turns(exclude=self.id), *reply_turns(self._parts)]
        return await with_attachments(self.runtime.store, turns)

    # -- streaming (hub loop, per piece / per burst) -------------------------------------------------
    def _on_text(self, text: str) -> None:
        # Text that arrives in one burst (one network read) goes out as one delta event: the event path
        # costs microseconds per call, and an SDK can hand over hundreds of pieces per read. This runs once
        # per piece (thousands a second), so it only appends; the rest is per burst.
        self._text.append(text)
        if self._first_token is None:
            # The reply's first text goes out at once: the end of its burst can be a whole network read
            # (hundreds of pieces, tens of ms of SDK parsing) away when the stream is fast.
            self._first_token = time.monotonic()
            self._end_burst()
        elif len(self._text) - self._sent == 1:  # the first piece of a burst
            asyncio.get_running_loop().call_soon(self._end_burst)
            if time.monotonic() - self._last_checkpoint > CHECKPOINT_S:
                self._checkpoint()

    def _end_burst(self) -> None:
        if self._sent == len(self._text):
            return
        pieces, self._sent = self._text[self._sent:], len(self._text)
        self._pieces += len(pieces)
        text = "".join(pieces)
        self._emit(EventKind.RESPONSE_DELTA, {"message_id": self.id, "text": text, "pieces": len(pieces)})
        if self.spec.on_delta is not None:
            self.spec.on_delta(text)

    def _close_text(self) -> None:
        """End the round's text as one text part."""
        if self._text:
            self._parts.append(TextPart("".join(self._text)))
        self._text, self._sent = [], 0

    def _count_attempt(self) -> None:
        self._attempts += 1

    def _on_retry(self, attempt: int, attempts: int, wait: float, error: ProviderError) -> None:
        self._retry_wait += wait
        self._emit(EventKind.REQUEST_RETRY, {
            "message_id": self.id, "attempt": attempt, "max_attempts": attempts, "wait_s": round(wait, 3),
            "until": now() + wait, "kind": error.kind, "status_code": error.status_code,
            "reason": error.message})

    def parts(self) -> tuple[Part, ...]:
        """The reply's parts so far (the round in progress as one text part)."""
        if self._text:
            return (*self._parts, TextPart("".join(self._text)))
        return tuple(self._parts)

    def _snapshot(self, **changes: Any) -> Message:
        assert self.message is not None
        self.message = self.message.with_(parts=self.parts(), **changes)
        self.conversation.replace(self.message)
        return self.message

    def _checkpoint(self) -> None:
        """Queue the reply so far for the store (a killed kernel loses at most a few seconds of it)."""
        self._last_checkpoint = time.monotonic()
        store = self.runtime.store
        store.defer(store.update_message, self._snapshot())

    # -- the end ------------------------------------------------------------------------------------------
    async def _finish(self, status: MessageStatus, *, error: str | None = None, error_kind: str | None = None,
                      finish_reason: str | None = None) -> Message:
        self._finishing = True  # a stop request from now on must not interrupt storing the final state
        self._close_text()
        usage: Usage | None = self._usage if self._usage != Usage() else None
        if usage is None and status is MessageStatus.STOPPED and self._pieces:
            usage = Usage(0, self._pieces)  # what streamed before the stop (the provider sent no report)
        cost = self.runtime.catalogue.cost(self.model, usage)
        message = self._snapshot(status=status, error=error, error_kind=error_kind, usage=usage, cost=cost,
                                 completed_at=now())
        store = self.runtime.store
        unsaved: StoreError | None = None
        try:
            await asyncio.wrap_future(store.defer(store.update_message, message))
        except StoreError as error:  # a lock held too long, a damaged file: the reply still ends
            unsaved = self._save_later(message, error)
        timing = {"elapsed": time.monotonic() - self._started,
                  "first_token_s": None if self._first_token is None else self._first_token - self._started,
                  "attempts": self._attempts, "retry_wait_s": round(self._retry_wait, 3), "rounds": self._rounds,
                  "finish_reason": finish_reason, **self.spec.meta}
        kind = EventKind.RESPONSE_FAILED if status is MessageStatus.FAILED else EventKind.RESPONSE_COMPLETED
        self.final_events = [Event(kind, self.session_id, {**message.to_dict(), **timing}),
                             Event(EventKind.MESSAGE_ASSISTANT, self.session_id, message.to_dict())]
        self.finished = True
        if unsaved is not None:
            raise unsaved
        return message

    def _save_later(self, message: Message, error: StoreError) -> StoreError:
        """The final state could not be stored: queue the write once more (it waits for the lock again)
        and return the error to raise once the reply has ended for its listeners."""
        log.warning("reply %s ended %s but was not stored: %s", message.id, message.status.value, error.message)
        store = self.runtime.store

        def retried(future: Any) -> None:
            if future.exception() is not None:
                log.warning("reply %s is still not stored: %s", message.id, future.exception())

        try:
            store.defer(store.update_message, message).add_done_callback(retried)
        except StoreError:  # the store was closed meanwhile
            pass
        return StoreError(f"the reply ended {message.status.value} but was not saved: {error.message}",
                          hint="it is in session.messages and one more write is queued; if the store stays "
                               "unavailable, keep a copy with session.export()")

    def _emit(self, kind: EventKind, payload: dict[str, Any]) -> None:
        self.runtime.emit(Event(kind, self.session_id, payload))


async def with_attachments(store: Any, turns: list[ChatTurn]) -> tuple[ChatTurn, ...]:
    """(hub loop) ``turns`` with the bytes of their images and files loaded from the store (stored
    messages refer to them by hash)."""
    if not any(p.data is None for t in turns for p in binary_parts(t.parts)):
        return tuple(turns)

    def load() -> tuple[ChatTurn, ...]:
        def fill(part: Any) -> Any:
            return part if part.data is not None else part.with_data(store.blob(part.blob))

        return tuple(ChatTurn(t.role, map_binary(t.parts, fill)) for t in turns)

    return await asyncio.wrap_future(store.defer(load))
