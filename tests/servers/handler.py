"""The HTTP side of the fake servers: request parsing, auth, faults, SSE writing and JSON answers.

The :class:`~tests.servers.protocol.Protocol` decides routes and shapes; this handler does the rest, so
every provider gets the same faults and the same recording.
"""

from __future__ import annotations

import itertools
import json
import socket
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .protocol import FAULTS, Answer, Fault, Protocol, Recorded, Request

if TYPE_CHECKING:
    from .base import ProviderServer

MID_STREAM = ("disconnect", "truncate", "malformed", "error_event", "hold", "close_after_headers")


def parse_body(raw: bytes, content_type: str) -> Any:
    """JSON, a multipart form (``{field: text or (filename, bytes)}``), or the raw bytes."""
    if not raw:
        return None
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        form: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            form[str(name)] = (filename, data) if filename is not None else data.decode()
        return form
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE writes must not wait for delayed ACKs
    server_state: ProviderServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # the client reset an idle keep-alive connection: nothing to answer, nothing to print
            self.close_connection = True

    def do_GET(self) -> None:
        self._safely("GET")

    def do_POST(self) -> None:
        self._safely("POST")

    def do_DELETE(self) -> None:
        self._safely("DELETE")

    def _safely(self, method: str) -> None:
        try:
            self._handle(method)
        except OSError:  # the client went away (a timeout, a stop): nothing to answer
            self.close_connection = True

    # -- plumbing -------------------------------------------------------------------------------
    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
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
        body = parse_body(raw, self.headers.get("Content-Type") or "")
        headers = {k.lower(): v for k, v in self.headers.items()}
        route = proto.route(method, parts.path)
        record = Recorded(method, self.path, headers, body, route=route or "")
        with state.lock:
            state.requests.append(record)
        if route is None:
            self._json(404, proto.error(404, f"no route {method} {parts.path}"))
            return
        if route == "stream":
            body = proto.normalize(body)
        fault = state.next_fault(proto.last_user_text(body)) if route == "stream" else FAULTS["ok"]
        record.fault = fault.kind if fault.kind != "status" else str(fault.status)
        if fault.kind == "echo_headers":  # a gateway in front of the API answers before any key check
            message = f"Bad gateway: the upstream closed the connection. Request headers: {json.dumps(headers)}"
            self._json(502, {"status": 502, "message": message,
                             "request": {"method": method, "path": parts.path, "headers": headers}})
            return
        keyless = state.key is None
        if fault.kind == "bad_key" or not (keyless or proto.authorised(headers, parts.query, str(state.key))):
            status, error = proto.auth_error()
            self._json(status, error)
            return
        if route == "models":
            self._json(200, proto.models(state.model_names))
            return
        if route != "stream":
            answer = proto.handle(route, Request(method, parts.path, parts.query, headers, body, state))
            self._answer(answer)
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
        if not proto.streaming(parts.path, body):
            self._respond(proto, model, body, fault, record)
        elif fault.kind == "close_after_headers":
            self._close_after_headers()
        else:
            self._stream(proto, model, body, fault, record)

    def _answer(self, answer: Answer) -> None:
        if isinstance(answer.body, bytes):
            self._send(answer.status, answer.body, answer.content_type, answer.headers)
        else:
            self._json(answer.status, answer.body, answer.headers)

    def _respond(self, proto: Protocol, model: str, body: Any, fault: Fault, record: Recorded) -> None:
        """A non-streaming generation request: one JSON response (a mid-stream fault drops the connection)."""
        if fault.kind in MID_STREAM:
            self._cut()
            return
        reply = self.server_state.reply_for(proto, model, body, scripted=True)
        record.reply, record.answer = reply.text, reply
        self._json(200, proto.response(model, body, reply))

    def _close_after_headers(self) -> None:
        """200 with event-stream headers, then close: no event, and a body that ends cleanly at the close."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self._cut()

    def _stream(self, proto: Protocol, model: str, body: Any, fault: Fault, record: Recorded) -> None:
        reply = self.server_state.reply_for(proto, model, body, scripted=True)
        record.reply, record.answer = reply.text, reply
        head, pieces, tail = proto.events(model, body, reply)
        try:
            self._begin_sse()
            for event in head:
                self._chunk(event)
            cut_at = fault.after if fault.kind != "ok" else len(pieces)
            for piece in pieces[:cut_at]:
                self._chunk(piece)
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
                self._trickle(pieces, fault.delay)
                return
            elif fault.kind in ("ok", "slow"):
                for piece in pieces[cut_at:]:
                    self._chunk(piece)
                for event in tail:
                    self._chunk(event)
            self._chunk(b"")  # the last chunk: the body ends cleanly (a truncate fault ends here too)
        except OSError:
            self.close_connection = True

    def _trickle(self, pieces: list[bytes], delay: float) -> None:
        """Send the reply's pieces over and over, one every ``delay`` seconds, until the client goes away."""
        try:
            for piece in itertools.cycle(pieces):
                if self.server_state.stopping.wait(delay):
                    break
                self._chunk(piece)
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

