"""A small threaded HTTP server on 127.0.0.1 that speaks one provider's wire protocol, with faults.

The protocol (OpenAI, Anthropic, Gemini) is a :class:`Protocol`; :mod:`tests.servers.handler` does
HTTP: routing, auth, chunked SSE writing and fault injection. Every request is recorded
(``server.requests``; ``server.streams()`` are the generation requests), so tests can count retries and
inspect the exact history each provider received.

Faults apply to the next generation requests in order (``server.fail("429", "ok")``) or to requests
whose last user text contains ``[[tag]]`` (``server.fail("500", tag="p7")``; with several tags, the
last one counts). Names: see ``FAULTS`` (``close-after-headers`` and ``echo-headers`` among them).

Replies are scripted with ``server.script(...)`` or follow the request (tool-call directives, forced
tools, structured output, tool results): see :mod:`tests.servers.replies`. Batch jobs are driven with
``server.batches`` (:mod:`tests.servers.batches`).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from http.server import ThreadingHTTPServer
from typing import Any

from .batches import Batches
from .handler import Handler as _Handler
from .protocol import FAULTS, KEY, Fault, Protocol, Recorded, sse, word_count
from .replies import CHUNK_CHARS, Call, Reply, as_reply, decide, reply_text, split

__all__ = ["CHUNK_CHARS", "FAULTS", "KEY", "Fault", "Protocol", "ProviderServer", "Recorded", "reply_text", "split",
           "sse", "word_count"]


@dataclass
class ProviderServer:
    """A running fake provider. ``url`` is ``http://127.0.0.1:PORT``."""

    protocol: Protocol
    key: str | None = KEY  # None: no key needed
    model_names: list[str] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    tagged: dict[str, deque[Fault]] = field(default_factory=dict)
    scripted: deque[Reply] = field(default_factory=deque)
    disconnected: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        outer = self

        class Handler(_Handler):
            server_state = outer

        self._call_numbers = itertools.count(1)
        self.batches = Batches(self.generate, self._batch_failure)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-{self.protocol.name}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def fail(self, *names: str | Fault, tag: str | None = None) -> None:
        """Queue faults for the next generation requests (or for requests carrying ``[[tag]]``)."""
        faults = [FAULTS[n] if isinstance(n, str) else n for n in names]
        with self.lock:
            if tag is None:
                self.faults.extend(faults)
            else:
                self.tagged.setdefault(tag, deque()).extend(faults)

    def script(self, *replies: str | Call | Reply | Iterable[Call]) -> None:
        """Queue the next replies: a str is text, a Call one tool call, a list of Calls parallel calls."""
        with self.lock:
            self.scripted.extend(as_reply(r) for r in replies)

    def streams(self) -> list[Recorded]:
        """The generation requests received (streamed or not), in order."""
        return [r for r in self.requests if r.route == "stream"]

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def next_fault(self, last_text: str) -> Fault:
        with self.lock:
            for tag in reversed(re.findall(r"\[\[(\w+)\]\]", last_text)):  # the newest prompt's tag first
                queue = self.tagged.get(tag)
                if queue:
                    return queue.popleft()
            return self.faults.popleft() if self.faults else FAULTS["ok"]

    def reply_for(self, proto: Protocol, model: str, body: Any, scripted: bool) -> Reply:
        """The reply to a valid generation request: the next scripted one, else decided from the request.
        Calls without an id get the protocol's next id (``call_001``...)."""
        with self.lock:
            reply = self.scripted.popleft() if scripted and self.scripted else None
        reply = reply or decide(proto.ask(model, body))
        if proto.call_prefix is None:
            return reply
        calls = tuple(c if c.id else replace(c, id=f"{proto.call_prefix}{next(self._call_numbers):03d}")
                      for c in reply.calls)
        return replace(reply, calls=calls)

    def generate(self, model: str, body: Any) -> tuple[int, Any]:
        """(status, body) of a non-streaming generation request, as the API answers it (batches use this)."""
        proto = self.protocol
        body = proto.normalize(body)
        if self.model_names and model not in self.model_names:
            return 404, proto.error(404, f"model {model} not found")
        problem = proto.validate(body)
        if problem is not None:
            return 400, proto.error(400, problem)
        return 200, proto.response(model, body, self.reply_for(proto, model, body, scripted=False))

    def _batch_failure(self) -> tuple[int, Any]:
        return 500, self.protocol.error(500, "The server had an error processing this request.")
