"""A small threaded HTTP server on 127.0.0.1 that speaks one provider's wire protocol, with faults.

The protocol (OpenAI, Anthropic, Gemini) is a :class:`Protocol`; this module does HTTP: routing,
auth, chunked SSE writing and fault injection. Every request is recorded, so tests can count retries
and inspect the exact history each provider received.

Faults apply to the next streaming requests in order (``server.fail("429", "ok")``) or to requests
whose last user text contains ``[[tag]]`` (``server.fail("500", tag="p7")``; with several tags, the
last one counts).
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

KEY = "sk-test-0123456789abcdef"
CHUNK_CHARS = 6


@dataclass(frozen=True)
class Fault:
    """What the server does to one streaming request."""

    kind: str = "ok"  # ok | status | slow | disconnect | truncate | malformed | error_event | hold | trickle | bad_key
    status: int = 0
    retry_after: str | None = None
    after: int = 2  # text deltas sent before a mid-stream fault
    delay: float = 5.0  # seconds before the first byte, for "slow"; between text deltas, for "trickle"
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
}


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    fault: str = "ok"
    reply: str = ""  # the full text the server meant to send


class Protocol:
    """One provider's wire format. Subclasses implement every method."""

    name = ""

    def route(self, method: str, path: str) -> str | None:
        """``"stream"``, ``"models"`` or None (404)."""
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
        """Why the request breaks the protocol's rules, or None."""
        raise NotImplementedError

    def last_user_text(self, body: Any) -> str:
        raise NotImplementedError

    def turn_count(self, body: Any) -> int:
        raise NotImplementedError

    def start(self, model: str, body: Any) -> list[bytes]:
        raise NotImplementedError

    def delta(self, model: str, body: Any, text: str) -> bytes:
        raise NotImplementedError

    def end(self, model: str, body: Any, chunks: int) -> list[bytes]:
        raise NotImplementedError

    def error_event(self) -> bytes:
        raise NotImplementedError

    def malformed(self) -> bytes:
        return b'data: {"choices": [{"delta": {"content": "oo\n\n'

    def models(self, names: list[str]) -> dict[str, Any]:
        raise NotImplementedError


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def reply_text(model: str, turns: int, last: str) -> str:
    """The deterministic reply to a request (split into chunks of CHUNK_CHARS characters)."""
    return f"{model} heard {turns} turn(s); last: {last[:40]}"


def split(text: str) -> list[str]:
    return [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]


def word_count(value: Any) -> int:
    return len(re.findall(r"\w+", json.dumps(value)))


@dataclass
class ProviderServer:
    """A running fake provider. ``url`` is ``http://127.0.0.1:PORT``."""

    protocol: Protocol
    key: str | None = KEY  # None: no key needed
    model_names: list[str] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    tagged: dict[str, deque[Fault]] = field(default_factory=dict)
    disconnected: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        outer = self

        class Handler(_Handler):
            server_state = outer

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
        """Queue faults for the next streaming requests (or for requests carrying ``[[tag]]``)."""
        faults = [FAULTS[n] if isinstance(n, str) else n for n in names]
        with self.lock:
            if tag is None:
                self.faults.extend(faults)
            else:
                self.tagged.setdefault(tag, deque()).extend(faults)

    def streams(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE writes must not wait for delayed ACKs
    server_state: ProviderServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._safely("GET")

    def do_POST(self) -> None:
        self._safely("POST")

    def _safely(self, method: str) -> None:
        try:
            self._handle(method)
        except OSError:  # the client went away (a timeout, a stop): nothing to answer
            self.close_connection = True

    # -- plumbing -------------------------------------------------------------------------------
    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _begin_sse(self) -> None:
        """Answer 200 with an event stream sent in chunked transfer encoding."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- requests -------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        state = self.server_state
        proto = state.protocol
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        route = proto.route(method, parts.path)
        record = Recorded(method, self.path, headers, body)
        with state.lock:
            state.requests.append(record)
        if route is None:
            self._json(404, proto.error(404, f"no route {method} {parts.path}"))
            return
        fault = state.next_fault(proto.last_user_text(body)) if route == "stream" else FAULTS["ok"]
        record.fault = fault.kind if fault.kind != "status" else str(fault.status)
        keyless = state.key is None
        if fault.kind == "bad_key" or not (keyless or proto.authorised(headers, parts.query, str(state.key))):
            status, error = proto.auth_error()
            self._json(status, error)
            return
        if route == "models":
            self._json(200, proto.models(state.model_names))
            return
        if fault.kind == "status":
            message = ("prompt is too long: 250000 tokens > 200000 maximum" if fault.code == "context"
                       else f"injected HTTP {fault.status}")
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._json(fault.status, proto.error(fault.status, message), extra)
            return
        model = proto.model(parts.path, body)
        if state.model_names and model not in state.model_names:
            self._json(404, proto.error(404, f"model {model} not found"))
            return
        problem = proto.validate(body)
        if problem is not None:
            self._json(400, proto.error(400, problem))
            return
        if fault.kind == "slow" and state.stopping.wait(fault.delay):
            return
        self._stream(proto, model, body, fault, record)

    def _stream(self, proto: Protocol, model: str, body: Any, fault: Fault, record: Recorded) -> None:
        text = reply_text(model, proto.turn_count(body), proto.last_user_text(body))
        record.reply = text
        pieces = split(text)
        try:
            self._begin_sse()
            for event in proto.start(model, body):
                self._chunk(event)
            cut_at = fault.after if fault.kind != "ok" else len(pieces)
            for piece in pieces[:cut_at]:
                self._chunk(proto.delta(model, body, piece))
            if fault.kind == "disconnect":
                self._cut()
                return
            if fault.kind == "malformed":
                self._chunk(proto.malformed())
            elif fault.kind == "error_event":
                self._chunk(proto.error_event())
            elif fault.kind == "hold":
                self._hold()
                return
            elif fault.kind == "trickle":
                self._trickle(proto, model, body, pieces, fault.delay)
                return
            elif fault.kind in ("ok", "slow"):
                for piece in pieces[cut_at:]:
                    self._chunk(proto.delta(model, body, piece))
                for event in proto.end(model, body, len(pieces)):
                    self._chunk(event)
            self._chunk(b"")  # the last chunk: the body ends cleanly (a truncate fault ends here too)
        except OSError:
            self.close_connection = True

    def _trickle(self, proto: Protocol, model: str, body: Any, pieces: list[str], delay: float) -> None:
        """Send the reply's pieces over and over, one every ``delay`` seconds, until the client goes away."""
        try:
            for piece in itertools.cycle(pieces):
                if self.server_state.stopping.wait(delay):
                    break
                self._chunk(proto.delta(model, body, piece))
        except OSError:
            self.server_state.disconnected.set()
        self.close_connection = True

    def _hold(self) -> None:
        """Keep the stream open, writing blank lines, until the client goes away."""
        try:
            while not self.server_state.stopping.wait(0.01):
                self._chunk(b"\n")
        except OSError:
            self.server_state.disconnected.set()
        self.close_connection = True
