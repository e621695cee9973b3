"""MCP servers as tool sources, through the official ``mcp`` SDK (the ``[mcp]`` extra), on the hub loop.

A server comes from a ``[mcp.NAME]`` settings table (``command`` + ``args`` + ``env`` for stdio, or ``url``
for streamable HTTP) or is given inline: ``hub.mcp("calc", command=["python", "server.py"])``. It is started
on first use, stopped with the hub, and started again on the next use after it crashed. A stdio server
gets only the environment its table gives it (plus the SDK's minimal defaults such as ``PATH`` and
``HOME``), never the kernel's keys.

>>> calc = hub.mcp("calc")          # doctest: +SKIP
>>> s.tools.add(calc)               # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
from dataclasses import replace
from typing import Any

from .errors import AiSessionsError, MissingDependency
from .parts import ImagePart, Part, TextPart
from .settings import McpServer
from .tools import Tool, ToolFailed

log = logging.getLogger(__name__)
INSTALL_HINT = "pip install 'jupyter-ai-sessions[mcp]'"


class McpToolSource:
    """One MCP server's tools (``s.tools.add(source)``); the connection lives in a task of the hub loop."""

    def __init__(self, config: McpServer) -> None:
        self.config = config
        self.name = config.name
        self._session: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._starting: asyncio.Lock | None = None

    def __repr__(self) -> str:
        where = self.config.url or " ".join([self.config.command or "", *self.config.args])
        return f"<MCP server {self.name!r}: {where}>"

    @property
    def running(self) -> bool:
        return self._session is not None and self._task is not None and not self._task.done()

    # -- tools ---------------------------------------------------------------------------------------
    async def list_tools(self) -> list[Tool]:
        """(hub loop) The server's tools, starting it if needed."""
        session = await self._ensure()
        listing = await session.list_tools()
        tools = []
        for item in listing.tools:
            schema = dict(getattr(item, "input_schema", None) or {"type": "object", "properties": {}})
            tools.append(Tool(item.name, item.description or "", schema, self._caller(item.name),
                              approval=self.config.approval, source=f"mcp:{self.name}", is_async=True,
                              timeout=self.config.timeout_s * 4))
        return tools

    def _caller(self, tool_name: str) -> Any:
        async def call(arguments: dict[str, Any]) -> tuple[Part, ...]:
            session = await self._ensure()
            try:
                result = await session.call_tool(tool_name, arguments)
            except Exception as exc:
                if _connection_lost(exc):  # the server died: stop what is left; the next use starts it again
                    await self.aclose()
                    raise ToolFailed(f"MCP server {self.name!r} stopped while running {tool_name} (it is "
                                     "started again on the next call)") from None
                raise ToolFailed(f"MCP server {self.name!r}: {exc}") from None
            parts = _parts(result)
            if getattr(result, "is_error", False):
                raise McpToolFailed(" ".join(p.text for p in parts if isinstance(p, TextPart)) or "failed")
            return parts

        return call

    # -- the connection ------------------------------------------------------------------------------
    async def _ensure(self) -> Any:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.running:
                return self._session
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._stop = asyncio.Event()
            self._task = asyncio.ensure_future(self._serve(ready, self._stop))
            try:
                async with asyncio.timeout(self.config.timeout_s):
                    await asyncio.shield(ready)
            except TimeoutError:
                self._stop.set()
                raise AiSessionsError(f"MCP server {self.name!r} did not start within {self.config.timeout_s:g} s",
                                      hint=f"check [mcp.{self.name}] (command, args, url) and run it by hand "
                                           "to see its errors") from None
            return self._session

    async def _serve(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        """Enter the transport and the session, and leave them, in this one task (anyio requires it)."""
        try:
            from mcp import ClientSession
        except ImportError:
            ready.set_exception(MissingDependency("the mcp SDK is not installed", hint=INSTALL_HINT))
            return
        try:
            with open(os.devnull, "w") as errlog:  # the server's stderr must not land in a cell's output
                async with self._transport(errlog) as streams, ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    self._session = session
                    ready.set_result(None)
                    await stop.wait()
        except Exception as exc:
            if not ready.done():
                ready.set_exception(AiSessionsError(
                    f"MCP server {self.name!r} could not start: {type(exc).__name__}: {exc}",
                    hint=f"check [mcp.{self.name}] (command, args, url) and run it by hand to see its errors"))
            else:
                log.warning("MCP server %r stopped: %s", self.name, exc)
        finally:
            self._session = None

    def _transport(self, errlog: Any) -> Any:
        config = self.config
        if config.url is not None:
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(config.url)
        from mcp import StdioServerParameters, stdio_client

        assert config.command is not None
        params = StdioServerParameters(command=config.command, args=list(config.args), env=dict(config.env),
                                       cwd=os.path.expanduser(config.cwd) if config.cwd else None)
        return stdio_client(params, errlog=errlog)

    async def aclose(self) -> None:
        """(hub loop) Stop the server."""
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), 5)
        self._session = None


class McpToolFailed(ToolFailed):
    """The server reported the call as an error (the model sees its text)."""


def inline_config(name: str, command: list[str] | str | None = None, url: str | None = None,
                  env: dict[str, str] | None = None, approval: str | None = None,
                  base: McpServer | None = None) -> McpServer:
    """A server config from ``hub.mcp(name, command=[...] | url=...)`` (over a settings table, if any)."""
    if command is not None and url is not None:
        raise AiSessionsError("give an MCP server a command or a url, not both")
    config = base or McpServer(name)
    if isinstance(command, str):
        command = command.split()
    if command is not None:
        if not command or not all(isinstance(c, str) for c in command):
            raise AiSessionsError("command must be a list of strings, e.g. ['python', 'server.py']")
        config = replace(config, command=command[0], args=tuple(command[1:]), url=None)
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise AiSessionsError(f"url {url!r} is not an http(s) URL", hint="e.g. url='http://127.0.0.1:8000/mcp'")
        config = replace(config, url=url, command=None, args=())
    if env is not None:
        config = replace(config, env=dict(env))
    if approval is not None:
        config = replace(config, approval=approval)
    if config.command is None and config.url is None:
        raise AiSessionsError(f"no MCP server named {name!r}",
                              hint=f"declare [mcp.{name}] in settings.toml (command + args, or url), or pass "
                                   f"hub.mcp({name!r}, command=[...]) or url='http://...'")
    return config


def _connection_lost(exc: Exception) -> bool:
    """Whether ``exc`` means the connection to the server is gone (not an error answer of a live server)."""
    try:
        from mcp_types import CONNECTION_CLOSED
    except ImportError:  # an SDK without the separate types package
        CONNECTION_CLOSED = -32000
    error = getattr(exc, "error", None)
    code = getattr(exc, "code", None) if error is None else getattr(error, "code", None)
    return code == CONNECTION_CLOSED or isinstance(exc, OSError | EOFError) or "closed" in str(exc).lower()


def _parts(result: Any) -> tuple[Part, ...]:
    parts: list[Part] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(TextPart(block.text))
        elif kind == "image":
            parts.append(ImagePart(block.mime_type, base64.b64decode(block.data)))
        else:
            parts.append(TextPart(f"[{kind} content]"))
    structured = getattr(result, "structured_content", None)
    if structured is not None and not parts:
        import json

        parts.append(TextPart(json.dumps(structured, ensure_ascii=False, default=str)))
    return tuple(parts) or (TextPart("(no output)"),)
