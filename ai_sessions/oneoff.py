"""One-off questions (``hub.ask``): a reply that belongs to no conversation. No history is sent and nothing
joins any session's conversation; each question is a :class:`~ai_sessions.reply.Reply` of its own, streamed
and stoppable like any other.

Where they are kept: in a hidden session of the notebook named :data:`ASK_SESSION` (created on the first
question, left out of ``hub.sessions()`` and the panel), so their usage and cost count in ``hub.usage`` /
``hub.cost`` and ``hub.metrics()`` after a restart too, with no new table. ``hub.delete("(asks)")`` removes
them all. See docs/architecture.md, "One-off questions".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .auto import AUTO, AutoChooser
from .catalogue import warn_fallback
from .checks import check_reply_options
from .context import with_context
from .conversation import Conversation
from .model import Message, SessionRecord, new_id
from .parts import Part
from .providers.base import ChatRequest, ChatTurn
from .reply import Reply, TurnSpec
from .session import ReplyHandle, prompt_parts

if TYPE_CHECKING:
    from .runtime import Runtime

#: The hidden session holding a notebook's one-off questions (a name ``hub.session()`` refuses).
ASK_SESSION = "(asks)"


class OneOff:
    """The one-off questions of one hub and notebook scope (``hub.asks``)."""

    name = ASK_SESSION

    def __init__(self, runtime: Runtime, scope: str) -> None:
        self.runtime = runtime
        self.scope = scope
        self._record: SessionRecord | None = None
        self._lock = threading.Lock()
        self._live: dict[Reply, asyncio.Task[Any]] = {}
        self._warned: set[str] = set()

    @property
    def id(self) -> str:
        """The id of the hidden session holding the questions (created on first use)."""
        return self.record().id

    def record(self) -> SessionRecord:
        with self._lock:
            if self._record is None:
                store = self.runtime.store
                record = store.find_session(self.scope, ASK_SESSION)
                if record is None:
                    record = store.create_session(SessionRecord(new_id(), ASK_SESSION, self.scope,
                                                                self.runtime.settings.defaults.model))
                self._record = record
            return self._record

    def send(self, prompt: str | Sequence[Part], model: str | None = None, **params: Any) -> Message:
        """Ask ``prompt`` and wait for the reply (a kernel interrupt stops it, keeping its text)."""
        reply = self._prepare(prompt, model, params)
        return self.runtime.loop.run(self._run(reply), what="ask()")

    def submit(self, prompt: str | Sequence[Part], model: str | None = None, **params: Any) -> ReplyHandle:
        """Ask ``prompt`` in the background; the handle has ``result()`` and ``cancel()``."""
        reply = self._prepare(prompt, model, params)
        future: concurrent.futures.Future[Message] = self.runtime.loop.submit(self._run(reply))
        return ReplyHandle(self, reply, future)  # type: ignore[arg-type]  # a handle needs .runtime and .name

    def cancel(self, wait: float = 5.0) -> bool:
        """Stop every question in flight (their text so far is kept as ``stopped``)."""

        async def stop() -> bool:
            tasks = [task for reply, task in list(self._live.items()) if reply.stop()]
            if tasks:
                await asyncio.wait(tasks)
            return bool(tasks)

        try:
            return self.runtime.loop.submit(stop()).result(wait)
        except concurrent.futures.TimeoutError:
            return True

    # -- internals --------------------------------------------------------------------------------
    def _prepare(self, prompt: Any, model: str | None, params: dict[str, Any]) -> Reply:
        context = params.pop("context", None)
        check_reply_options(params)
        parts = with_context(prompt_parts(prompt), context, self.runtime.settings.context.max_chars)
        catalogue = self.runtime.catalogue
        requested = model or self.runtime.settings.defaults.model
        used, reason = catalogue.resolve(requested, strict=True)
        if reason and reason not in self._warned:
            self._warned.add(reason)
            warn_fallback(ASK_SESSION, used, reason)
        spec = TurnSpec(parts, self._builder(params), requested)
        if requested == AUTO:
            spec.chooser = AutoChooser(self.runtime.settings, catalogue, AUTO)  # no switch log: no conversation
        return Reply(self.runtime, Conversation(self.id), ASK_SESSION, spec)

    def _builder(self, params: dict[str, Any]) -> Callable[[str, tuple[ChatTurn, ...]], ChatRequest]:
        defaults = self.runtime.settings.defaults

        def build(model: str, turns: tuple[ChatTurn, ...]) -> ChatRequest:
            return ChatRequest(model=model, turns=turns, system=params.get("system_prompt", defaults.system_prompt),
                               temperature=params.get("temperature", defaults.temperature),
                               max_tokens=params.get("max_tokens", defaults.max_tokens),
                               extra=dict(params.get("extra") or {}))

        return build

    async def _run(self, reply: Reply) -> Message:
        task = asyncio.current_task()
        assert task is not None
        self._live[reply] = task
        try:
            return await reply.run()
        finally:
            self._live.pop(reply, None)
            for event in reply.final_events:
                self.runtime.emit(event)
