"""The pieces shared by the fake servers: faults, recorded requests, and the :class:`Protocol` interface
each provider's wire format implements (``openai_wire``, ``anthropic_wire``, ``gemini_wire``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .replies import Ask, Reply, split

if TYPE_CHECKING:
    from .base import ProviderServer

KEY = "sk-test-0123456789abcdef"


@dataclass(frozen=True)
class Fault:
    """What the server does to one generation request.

    ``close_after_headers``: 200 with event-stream headers, then the connection closes with no event (a
    dropped connection; the body ends cleanly at the close, so SDKs see an empty stream and no error).
    ``echo_headers``: a 502 from a "gateway" whose JSON body ``{status, message, request: {method, path,
    headers}}`` echoes every request header it got, API keys included, in ``message`` and in ``request``
    (so each SDK's exception text carries the key).
    """

    # ok | status | slow | disconnect | truncate | malformed | error_event | hold | trickle | bad_key
    # | close_after_headers | echo_headers
    kind: str = "ok"
    status: int = 0
    retry_after: str | None = None
    after: int = 2  # stream pieces sent before a mid-stream fault
    delay: float = 5.0  # seconds before the first byte, for "slow"; between text pieces, for "trickle"
    code: str = ""  # "context" for a context-too-long 400


FAULTS: dict[str, Fault] = {
    "ok": Fault(),
    "401": Fault("bad_key"),
    "429": Fault("status", 429, retry_after="0"),
    "429-long": Fault("status", 429, retry_after="7"),
    "500": Fault("status", 500),
    "503": Fault("status", 503),
    "context": Fault("status", 400, code="context"),
    "slow": Fault("slow"),
    "disconnect": Fault("disconnect", after=2),
    "disconnect-early": Fault("disconnect", after=0),
    "truncate": Fault("truncate", after=2),
    "malformed": Fault("malformed", after=1),
    "error_event": Fault("error_event", after=1),
    "hold": Fault("hold", after=2),
    "trickle": Fault("trickle", after=0, delay=0.05),  # an endless slow reply: text every 50 ms
    "close-after-headers": Fault("close_after_headers"),
    "echo-headers": Fault("echo_headers", 502),
}


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON; a multipart form as {field: str | (filename, bytes)}; else the raw bytes
    fault: str = "ok"
    reply: str = ""  # the full text the server meant to send
    answer: Reply | None = None  # the whole reply (text and tool calls) of a generation request
    route: str = ""  # the protocol's route name ("stream" for generation requests)


class Problem(str):
    """A request-rule violation: the message, plus the offending parameter where the API names one."""

    param: str | None = None

    def __new__(cls, message: str, param: str | None = None) -> Problem:
        problem = super().__new__(cls, message)
        problem.param = param
        return problem


@dataclass
class Request:
    """A non-generation request handed to :meth:`Protocol.handle` (batch and file endpoints)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    server: ProviderServer


@dataclass
class Answer:
    """What :meth:`Protocol.handle` answers: JSON (a dict or list) or raw bytes with a content type."""

    status: int
    body: Any
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class Protocol:
    """One provider's wire format. Subclasses must implement every method that raises NotImplementedError
    and may override the others (whose defaults serve a text-only, streaming-only protocol)."""

    name = ""
    call_prefix: str | None = None  # the id prefix of tool calls it sends (None: calls carry no id)

    def route(self, method: str, path: str) -> str | None:
        """``"stream"`` (generation), ``"models"``, another name for :meth:`handle`, or None (404)."""
        raise NotImplementedError

    def authorised(self, headers: dict[str, str], query: str, key: str) -> bool:
        raise NotImplementedError

    def auth_error(self) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def error(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def model(self, path: str, body: Any) -> str:
        raise NotImplementedError

    def validate(self, body: Any) -> str | None:
        """Why the request breaks the protocol's rules (a str or :class:`Problem`), or None."""
        raise NotImplementedError

    def last_user_text(self, body: Any) -> str:
        raise NotImplementedError

    def turn_count(self, body: Any) -> int:
        raise NotImplementedError

    def normalize(self, body: Any) -> Any:
        """The generation request as the rules read it (Gemini: proto field names in one spelling)."""
        return body

    def streaming(self, path: str, body: Any) -> bool:
        """Whether a generation request asks for a stream (else it gets one JSON response)."""
        return True

    def ask(self, model: str, body: Any) -> Ask:
        """What in the request decides the reply (see :func:`tests.servers.replies.decide`)."""
        return Ask(model, self.turn_count(body), self.last_user_text(body))

    def start(self, model: str, body: Any) -> list[bytes]:
        raise NotImplementedError

    def delta(self, model: str, body: Any, text: str) -> bytes:
        raise NotImplementedError

    def end(self, model: str, body: Any, chunks: int) -> list[bytes]:
        raise NotImplementedError

    def events(self, model: str, body: Any, reply: Reply) -> tuple[list[bytes], list[bytes], list[bytes]]:
        """The stream of ``reply`` as (head, pieces, tail); mid-stream faults cut after ``after`` pieces."""
        pieces = split(reply.text)
        return self.start(model, body), [self.delta(model, body, p) for p in pieces], self.end(model, body,
                                                                                                 len(pieces))

    def response(self, model: str, body: Any, reply: Reply) -> dict[str, Any]:
        """The non-streaming response body for ``reply``."""
        raise NotImplementedError

    def error_event(self) -> bytes:
        raise NotImplementedError

    def malformed(self) -> bytes:
        return b'data: {"choices": [{"delta": {"content": "oo\n\n'

    def models(self, names: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def handle(self, route: str, request: Request) -> Answer:
        """Answer a route other than ``stream`` and ``models`` (batch and file endpoints)."""
        return Answer(404, self.error(404, f"no route {request.method} {request.path}"))


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def word_count(value: Any) -> int:
    return len(re.findall(r"\w+", json.dumps(value)))
