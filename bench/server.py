"""The benchmark's provider servers: the project's protocol-faithful test servers (``tests/servers``)
streaming a long reply, as fast as they can or paced at a token rate.

A request sets its reply through a tag in its last user message: ``[[bench tokens=2000 rate=0]]``
(``rate=0``: as fast as possible; else tokens per second, on a fixed schedule so pacing never drifts).
Each token is one protocol event (one SSE chunk, written and flushed on its own, Nagle off).

Servers run in a separate process (:class:`ServerProcess`) so they do not share the GIL or a core with
the client being measured: ``python -m bench.server openai`` prints its URL and serves until stdin closes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from typing import Any

from .common import ROOT

TAG = re.compile(r"\[\[bench tokens=(\d+) rate=([\d.]+)\]\]")
WORDS = ("the", " data", " frame", " has", " 12", " columns", ",", " and", " the", " mean", " of", " `price`",
         " is", " 4.2", ".", " A", " **p-value**", " below", " 0.05", " means", "\n\n")
PROTOCOLS = ("openai", "anthropic", "gemini")
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


def prompt(tokens: int, rate: float = 0.0, text: str = "Describe the data.") -> str:
    """A user prompt asking the bench server for ``tokens`` tokens at ``rate`` tokens/s (0: at once)."""
    return f"{text} [[bench tokens={tokens} rate={rate:g}]]"


def token_text(i: int) -> str:
    """The ``i``-th token of every bench reply (deterministic, markdown-ish prose)."""
    return WORDS[i % len(WORDS)]


def expected_text(tokens: int) -> str:
    return "".join(token_text(i) for i in range(tokens))


def _protocol(name: str) -> Any:
    sys.path.insert(0, str(ROOT))
    if name == "openai":
        from tests.servers.openai_wire import OpenAIProtocol

        return OpenAIProtocol()
    if name == "anthropic":
        from tests.servers.anthropic_wire import AnthropicProtocol

        return AnthropicProtocol()
    from tests.servers.gemini_wire import GeminiProtocol

    return GeminiProtocol()


def start_server(protocol: str) -> Any:
    """A tests/servers ProviderServer for ``protocol`` (in this process) whose replies follow the bench tag."""
    from tests.servers.base import ProviderServer

    server = ProviderServer(_protocol(protocol))
    base = server._httpd.RequestHandlerClass
    server._httpd.RequestHandlerClass = type("BenchHandler", (base,), {"_stream": _bench_stream})
    server._httpd.socket.listen(512)  # socketserver's backlog of 5 refuses many clients connecting at once
    return server


_cache: dict[str, list[bytes]] = {}
_cache_lock = threading.Lock()


def _events(proto: Any, model: str, body: Any, tokens: int) -> list[bytes]:
    """Every event of a reply, encoded once per distinct request (so the server stays fast)."""
    key = json.dumps([model, tokens, body], sort_keys=True)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None:
        cached = [*proto.start(model, body), *(proto.delta(model, body, token_text(i)) for i in range(tokens)),
                  *proto.end(model, body, tokens)]
        with _cache_lock:
            _cache[key] = cached
    return cached


def _bench_stream(self: Any, proto: Any, model: str, body: Any, fault: Any, record: Any) -> None:
    """The handler's stream method: the tagged number of tokens, at the tagged rate."""
    match = TAG.search(proto.last_user_text(body))
    tokens, rate = (int(match.group(1)), float(match.group(2))) if match else (20, 0.0)
    events = _events(proto, model, body, tokens)
    starts = len(proto.start(model, body))
    try:
        self._begin_sse()
        began = time.monotonic()
        for i, event in enumerate(events):
            token = i - starts
            if rate > 0 and 0 < token < tokens:  # the first token goes at once, then one every 1/rate s
                wait = began + token / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            self._chunk(event)
        self._chunk(b"")
    except OSError:
        self.close_connection = True


class ServerProcess:
    """A bench server in a child process; ``url`` is its base URL. Use as a context manager."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self._proc = subprocess.Popen([sys.executable, "-m", "bench.server", protocol], cwd=ROOT,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"bench server for {protocol} did not start (said {line!r})")
        self.url = line

    @property
    def key(self) -> str:
        from tests.servers.base import KEY

        return KEY

    def stop(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def provider_options(protocol: str, url: str) -> dict[str, Any]:
    """The hub's provider table pointing ``protocol`` at a bench server (long timeouts)."""
    base_url = f"{url}/v1" if protocol == "openai" else url
    return {"kind": protocol, "base_url": base_url, "timeout": 120}


def main() -> None:
    protocol = sys.argv[1] if len(sys.argv) > 1 else "openai"
    server = start_server(protocol)
    print(server.url, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin (or dies)
    server.stop()


if __name__ == "__main__":
    main()
