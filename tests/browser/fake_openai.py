"""A tiny OpenAI-protocol chat server for the browser tests, on 127.0.0.1 (stdlib only).

Models (the ``model`` of the request picks the behaviour):

- ``hostile``: streams markdown full of XSS attempts and a remote image pointing back at this server;
- ``slow``: streams ``tick N`` every 40 ms until the client goes away (for Stop and the progress bar);
- ``steady``: like ``echo``, after a 150 ms pause (so a batch of them takes visible time);
- ``gated``: like ``echo``, once ``GET /release`` was called (so a test decides when the reply ends);
- ``analyst``: calls tools (see fake_tools.py);
- anything else: streams ``Echo: <last user message>`` in a few chunks.

Every GET is recorded in ``requests`` (so a test can tell whether the browser fetched an image).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .fake_tools import analyst_events

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005"
    "0001ff5a2f6d0b0000000049454e44ae426082")


def hostile_markdown(base: str) -> str:
    return "\n\n".join([
        "# Report",
        "<script>window.__pwned = 'script'</script>",
        "<img src=x onerror=\"window.__pwned='onerror'\">",
        f"![tracker]({base}/evil.png)",
        "[click me](javascript:window.__pwned='link')",
        "<a href=\"javascript:window.__pwned='a'\">a link</a>",
        "<svg onload=\"window.__pwned='svg'\"><circle r=4 /></svg>",
        "<iframe src=\"javascript:parent.__pwned='iframe'\"></iframe>",
        "<div style=\"position:fixed;inset:0\" onmouseover=\"window.__pwned='hover'\">overlay</div>",
        "<details open ontoggle=\"window.__pwned='toggle'\"><summary>s</summary>d</details>",
        f"[safe link]({base}/page)",
        "Done.",
    ])


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.server.record(self.path)
        if self.path == "/release":
            self.server.gate.set()
            self._json({})
            return
        if self.path.startswith("/v1/models"):
            self._json({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "test"}
                                                   for m in ("echo", "steady", "slow", "hostile", "analyst")]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG_1PX)))
        self.end_headers()
        self.wfile.write(PNG_1PX)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self.send_error(404)
            return
        model = body.get("model", "echo")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            if model == "analyst":
                for event in analyst_events(body):
                    self._event(event)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                return
            if model == "slow":
                n = 0
                while not self.server.closing.is_set():
                    n += 1
                    self._chunk(model, f"tick {n} ")
                    self.server.closing.wait(0.04)
                return
            if model == "hostile":
                text = hostile_markdown(self.server.base)
                pieces = [text[i:i + 40] for i in range(0, len(text), 40)]
            else:
                if model == "steady":
                    self.server.closing.wait(0.15)
                elif model == "gated":
                    self.server.gate.wait(60)
                last = next((m["content"] for m in reversed(body.get("messages", [])) if m["role"] == "user"), "")
                pieces = ["Echo: ", str(last)[:200]]
            for piece in pieces:
                self._chunk(model, piece)
            self._chunk(model, None, finish="stop")
            usage = {"prompt_tokens": 5, "completion_tokens": len(pieces), "total_tokens": 5 + len(pieces)}
            self._event({"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                         "choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def _chunk(self, model: str, text: str | None, finish: str | None = None) -> None:
        delta = {"content": text} if text is not None else {}
        self._event({"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class FakeOpenAI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[str] = []
        self.closing = threading.Event()
        self.gate = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def got(self, path: str) -> bool:
        with self._lock:
            return path in self.requests

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        self.gate.set()
        self.shutdown()
        self.server_close()
