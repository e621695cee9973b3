"""PROTOTYPE (bench only, issue 11 §6): provider I/O in a worker process per hub, the hub loop's API unchanged.

:class:`ProcProvider` is a provider kind (``proc``) whose ``stream_text`` hands the request to a worker
process (``python -m bench.proc_provider``) running the real provider (``inner = "openai"``, its SDK, its
HTTP connections), and gets back only the text. What crosses the process boundary, length-prefixed pickles
over the worker's stdin/stdout:

- kernel → worker: ``("req", id, config, key, request)`` (the provider table, the API key, the
  :class:`~ai_sessions.providers.base.ChatRequest` with any attachment bytes) and ``("cancel", id)``;
- worker → kernel: one message per flush, a list of ``(id, "text", text)``, ``(id, "done", Finished)`` and
  ``(id, "error", (type name, message))``. The worker joins each stream's text between flushes (every
  ``flush_ms`` of the ``[providers.NAME]`` table; 0: once per worker loop iteration), so the kernel wakes
  once per flush for all streams, not once per SSE event.

Stop and interrupt: cancelling the kernel-side ``stream_text`` (``Reply.stop()``) sends ``cancel``; the
worker cancels that stream's task, which closes its HTTP stream as in-process. Not handled here (a real
implementation would have to): errors keep only their type name and message (mapped to ProviderError
kinds in the kernel), the worker's lifetime (here: it ends when its stdin closes, i.e. with the hub), model
lists and ``test_connection``, tool-call argument streaming, and the local model (llama.cpp already
generates in its own thread and releases the GIL while computing, so it needs no worker process).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from ai_sessions.errors import ProviderError
from ai_sessions.providers.base import Availability, ChatRequest, Finished, Provider, ProviderConfig

HEADER = struct.Struct("!I")


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


async def _read(reader: asyncio.StreamReader) -> Any:
    size = HEADER.unpack(await reader.readexactly(HEADER.size))[0]
    return pickle.loads(await reader.readexactly(size))


class ProcProvider(Provider):
    """A provider whose SDK runs in a worker process (one per hub and provider name)."""

    kind = "proc"
    options: ClassVar[dict[str, Any]] = {"inner": str, "base_url": str, "timeout": float, "flush_ms": float}

    def __init__(self, config: ProviderConfig, keys: Any) -> None:
        super().__init__(config, keys)
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._streams: dict[int, tuple[Callable[[str], None], asyncio.Future[Finished | None]]] = {}
        self._ids = itertools.count()
        self._starting: asyncio.Lock | None = None

    @property
    def inner_kind(self) -> str:
        return str(self.option("inner", "openai"))

    def availability(self) -> Availability:
        return Availability(True)

    def api_key(self) -> str | None:
        from ai_sessions.providers import provider_class

        inner = provider_class(self.inner_kind)
        for env in inner.key_envs:
            if os.environ.get(env):
                return os.environ[env]
        return None

    async def prepare(self) -> None:
        if self._proc is not None:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._proc is None:
                self._proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bench.proc_provider", stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, limit=2**24)
                self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            while True:
                for stream_id, what, payload in await _read(self._proc.stdout):
                    entry = self._streams.get(stream_id)
                    if entry is None:
                        continue
                    on_text, done = entry
                    if what == "text":
                        on_text(payload)
                    elif not done.done():
                        if what == "done":
                            done.set_result(payload)
                        else:
                            done.set_exception(ProviderError(f"{payload[0]}: {payload[1]}", provider=self.name))
        except (asyncio.IncompleteReadError, ConnectionError):
            for _, done in self._streams.values():
                if not done.done():
                    done.set_exception(ProviderError("the provider worker process ended", provider=self.name))

    def _send(self, message: Any) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(_frame(message))

    def stream(self, request: ChatRequest) -> Any:
        raise NotImplementedError("the prototype implements stream_text only")

    async def stream_text(self, request: ChatRequest, on_text: Callable[[str], None]) -> Finished | None:
        await self.prepare()
        stream_id = next(self._ids)
        done: asyncio.Future[Finished | None] = asyncio.get_running_loop().create_future()
        self._streams[stream_id] = (on_text, done)
        config = {k: v for k, v in self.config.options.items() if k != "inner"}
        self._send(("req", stream_id, (self.name, self.inner_kind, config), self.api_key(), request))
        try:
            return await done
        except asyncio.CancelledError:
            self._send(("cancel", stream_id))
            raise
        finally:
            self._streams.pop(stream_id, None)

    async def aclose(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.close()
            await self._proc.wait()


# -- the worker process --------------------------------------------------------------------------------
class Worker:
    """Runs streams for one hub's provider; see the module docstring for the messages."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.providers: dict[tuple[str, str], Provider] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.pending: list[tuple[int, str, Any]] = []
        self.texts: dict[int, list[str]] = {}
        self.flush_s = 0.0
        self._scheduled = False

    def provider(self, name: str, kind: str, options: dict[str, Any], key: str | None) -> Provider:
        from ai_sessions.keys import KeyStore
        from ai_sessions.providers import provider_class

        found = self.providers.get((name, kind))
        if found is None:
            cls = provider_class(kind)
            if key and cls.key_envs:
                os.environ[cls.key_envs[0]] = key  # this process's own environment, never a command line
            self.flush_s = float(options.pop("flush_ms", 0.0)) / 1000
            keys = KeyStore(Path(tempfile.mkdtemp(prefix="ai_sessions-worker-")) / "keys.json", use_keyring=False)
            found = cls(ProviderConfig(name, kind, options), keys)
            self.providers[(name, kind)] = found
        return found

    def start(self, stream_id: int, config: tuple[str, str, dict[str, Any]], key: str | None,
              request: ChatRequest) -> None:
        provider = self.provider(*config, key)
        self.tasks[stream_id] = asyncio.get_running_loop().create_task(self.run(stream_id, provider, request))

    async def run(self, stream_id: int, provider: Provider, request: ChatRequest) -> None:
        def on_text(text: str) -> None:
            pieces = self.texts.get(stream_id)
            if pieces is None:
                self.texts[stream_id] = [text]
                self.schedule()
            else:
                pieces.append(text)

        try:
            await provider.prepare()
            finished = await provider.stream_text(request, on_text)
            self.queue(stream_id, "done", finished)
        except asyncio.CancelledError:
            self.queue(stream_id, "done", None)
        except Exception as error:
            self.queue(stream_id, "error", (type(error).__name__, str(error)))
        finally:
            self.tasks.pop(stream_id, None)

    def queue(self, stream_id: int, what: str, payload: Any) -> None:
        self.take_text(stream_id)
        self.pending.append((stream_id, what, payload))
        self.schedule()

    def take_text(self, stream_id: int) -> None:
        pieces = self.texts.pop(stream_id, None)
        if pieces:
            self.pending.append((stream_id, "text", "".join(pieces)))

    def schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            if self.flush_s > 0:
                loop.call_later(self.flush_s, self.flush)
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        for stream_id in list(self.texts):
            self.take_text(stream_id)
        if self.pending:
            batch, self.pending = self.pending, []
            self.writer.write(_frame(batch))


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout.buffer)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    worker = Worker(writer)
    try:
        while True:
            message = await _read(reader)
            if message[0] == "req":
                worker.start(*message[1:])
            elif message[0] == "cancel":
                task = worker.tasks.get(message[1])
                if task is not None:
                    task.cancel()
    except asyncio.IncompleteReadError:  # the hub closed our stdin: end
        pass
    finally:
        for provider in worker.providers.values():
            await provider.aclose()


if __name__ == "__main__":
    asyncio.run(_serve())
