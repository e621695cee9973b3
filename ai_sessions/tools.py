"""Tools: Python callables (and MCP servers' tools) a model may call while it replies.

A tool's JSON Schema comes from its type hints through pydantic (``TypeAdapter``), its description from
its docstring (parameter descriptions from an ``Args:`` / numpy / reST section, via docstring_parser);
arguments are validated before the call. A tool runs off the hub loop: a plain function in a worker
thread, a coroutine function on the hub loop itself (it must not block), and a tool that asks for the
main thread (``main_thread=True``: pyplot, the user namespace) where cells run, when the kernel is free.
An exception becomes an error result the model sees; the reply goes on.

>>> def count_rows(table: str, limit: int = 10) -> int:
...     '''Count the rows of a table.'''
>>> s = hub.session("eda", tools=[count_rows])                 # doctest: +SKIP
>>> s.tools.add(ai_sessions.notebook_tools)                     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import AiSessionsError
from .model import EventKind
from .parts import TextPart, ToolCallPart, ToolResultPart
from .providers.base import ToolSpec
from .providers.history import RAW_ARGUMENTS

if TYPE_CHECKING:
    from .approval import ApprovalBroker
    from .mainthread import MainThread

log = logging.getLogger(__name__)
APPROVALS = ("auto", "ask")
#: The session whose reply runs the current tool call (set while a tool runs).
current_session: contextvars.ContextVar[str | None] = contextvars.ContextVar("ai_sessions_tool_session",
                                                                             default=None)
#: Seconds a tool may run before its call fails with a timeout (per tool: ``timeout=``).
DEFAULT_TIMEOUT_S = 120.0
#: Characters of a tool's result sent to the model (the rest is cut with a note).
RESULT_CHARS = 20_000
_NAME_OK = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for, as an approval callback sees it."""

    id: str
    name: str
    arguments: dict[str, Any]
    source: str = "python"
    session: str = ""


@dataclass
class Tool:
    """One callable tool. Make one from a function with :meth:`from_function` (``s.tools.add(fn)`` does)."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any]], Any]
    approval: str = "auto"
    source: str = "python"
    main_thread: bool = False
    #: Seconds a call may take (None: the settings' ``[tools] timeout_s``).
    timeout: float | None = None
    is_async: bool = False

    def __post_init__(self) -> None:
        check_tool_name(self.name)
        check_approval(self.approval)

    @classmethod
    def from_function(cls, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None,
                      approval: str = "auto", main_thread: bool = False,
                      timeout: float | None = None, source: str = "python") -> Tool:
        """A tool from ``fn``: its name, docstring and type hints describe it to the model."""
        if not callable(fn):
            raise AiSessionsError(f"a tool must be a function, not a {type(fn).__name__}",
                                  hint="s.tools.add(my_function) with a function that has type hints, "
                                  "or a tool set such as ai_sessions.notebook_tools")
        from pydantic import TypeAdapter, ValidationError, validate_call

        summary, params_doc = _docstring(fn)
        try:
            schema = TypeAdapter(fn).json_schema()
        except Exception as exc:  # a hint pydantic cannot express as JSON Schema
            raise AiSessionsError(f"cannot describe tool {getattr(fn, '__name__', fn)!r} to a model: {exc}",
                                  hint="use JSON-friendly type hints (str, int, float, bool, lists, dicts, "
                                       "pydantic models)") from None
        schema = _clean_schema(schema, params_doc)
        checked = validate_call(fn)
        is_async = inspect.iscoroutinefunction(fn)

        def run(arguments: dict[str, Any]) -> Any:
            try:
                return checked(**arguments)
            except ValidationError as exc:
                raise ToolArgumentError(_validation_text(exc)) from None

        return cls(name or fn.__name__, description if description is not None else summary, schema, run,
                   approval, source, main_thread, timeout, is_async)

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, source={self.source!r}, approval={self.approval!r})"


class ToolFailed(Exception):
    """Raise it from a tool to report a failure with exactly this text (other exceptions are reported as
    ``TypeName: message``)."""


class ToolArgumentError(ToolFailed):
    """The model's arguments do not fit the tool's parameters (the model is told, and may try again)."""


@runtime_checkable
class ToolSource(Protocol):
    """Something that provides tools when asked (an MCP server): ``s.tools.add(source)``."""

    name: str

    async def list_tools(self) -> list[Tool]: ...


class ToolSet:
    """A named group of tools added together (``ai_sessions.notebook_tools`` is one)."""

    def __init__(self, name: str, tools: Iterable[Tool]) -> None:
        self.name = name
        self.tools = list(tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools)

    def __repr__(self) -> str:
        return f"ToolSet({self.name!r}, {[t.name for t in self.tools]})"


def check_tool_name(name: Any) -> None:
    if not isinstance(name, str) or not name or len(name) > 64 or any(c not in _NAME_OK for c in name):
        raise AiSessionsError(f"bad tool name {name!r}",
                              hint="1-64 letters, digits, '_' or '-' (what every provider accepts)")


def check_approval(approval: Any) -> None:
    if approval not in APPROVALS:
        raise AiSessionsError(f"approval must be 'auto' or 'ask', not {approval!r}",
                              hint="'ask' waits for your say-so before each call; 'auto' runs it at once")


def _docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    text = inspect.getdoc(fn) or ""
    if not text:
        return "", {}
    import docstring_parser

    parsed = docstring_parser.parse(text)
    summary = "\n\n".join(p for p in (parsed.short_description, parsed.long_description) if p)
    return summary, {p.arg_name: p.description for p in parsed.params if p.description}


def _clean_schema(schema: dict[str, Any], params_doc: dict[str, str]) -> dict[str, Any]:
    """The arguments' schema as providers want it: an object, titles dropped, descriptions added."""
    schema = dict(schema)
    schema.pop("title", None)
    properties = {}
    for name, prop in dict(schema.get("properties", {})).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        if name in params_doc and "description" not in prop:
            prop["description"] = params_doc[name]
        properties[name] = prop
    schema["properties"] = properties
    schema.setdefault("type", "object")
    return schema


def _validation_text(exc: Any) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or "arguments"
        problems.append(f"{where}: {error.get('msg')}")
    return "invalid arguments: " + "; ".join(problems)


# -- a session's tools ---------------------------------------------------------------------------------
class ToolBox:
    """The tools of one session (``s.tools``): add functions, tool sets and MCP servers; list; remove.

    >>> s.tools.add(count_rows)                     # doctest: +SKIP
    >>> s.tools.add(run_sql, approval="ask")        # doctest: +SKIP
    >>> s.tools.remove("count_rows")                # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._sources: dict[str, tuple[ToolSource, str | None]] = {}
        self._from_sources: dict[str, Tool] = {}
        self._always: set[str] = set()

    def add(self, item: Any, *, approval: str | None = None, name: str | None = None,
            main_thread: bool | None = None) -> None:
        """Add a function, a :class:`Tool`, a tool set (e.g. ``ai_sessions.notebook_tools``), an MCP server
        (``hub.mcp("calc")``) or a list of these. ``approval``: ``"auto"`` (the default for your own
        functions) or ``"ask"``; tools that run code or change the notebook are always ``"ask"``."""
        if approval is not None:
            check_approval(approval)
        if isinstance(item, ToolSource):
            self._sources[item.name] = (item, approval)
            return
        if isinstance(item, ToolSet | list | tuple):
            if name is not None:
                raise AiSessionsError("name= applies to one tool, not a group", hint="add the tools one by one")
            for tool in item:
                self.add(tool, approval=approval, main_thread=main_thread)
            return
        if isinstance(item, Tool):
            tool = item
            if name is not None:
                check_tool_name(name)
                tool = replace(tool, name=name)
        else:
            tool = Tool.from_function(item, name=name, approval="auto",
                                      main_thread=bool(main_thread))
        if approval is not None and not (tool.approval == "ask" and approval == "auto" and _always_ask(tool)):
            tool = replace(tool, approval=approval)
        if main_thread is not None and not isinstance(item, Tool):
            tool = replace(tool, main_thread=main_thread)
        self._tools[tool.name] = tool

    def remove(self, name: str) -> None:
        """Remove a tool (or an MCP server's tools, by the server's name)."""
        if name in self._tools:
            del self._tools[name]
        elif name in self._sources:
            del self._sources[name]
            self._from_sources = {k: t for k, t in self._from_sources.items() if t.source != f"mcp:{name}"}
        else:
            raise AiSessionsError(f"no tool named {name!r}", hint=f"tools: {', '.join(self.names()) or 'none'}")
        self._always.discard(name)

    def allow(self, name: str) -> None:
        """Run ``name`` without asking from now on, in this session ("Always allow in this session")."""
        self._always.add(name)

    def clear(self) -> None:
        self._tools.clear()
        self._sources.clear()
        self._from_sources.clear()
        self._always.clear()

    def names(self) -> list[str]:
        return [*self._tools, *(n for n in self._from_sources if n not in self._tools)]

    def __bool__(self) -> bool:
        return bool(self._tools or self._sources)

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._tools or name in self._from_sources

    def __iter__(self) -> Iterator[Tool]:
        yield from self._tools.values()
        yield from (t for n, t in self._from_sources.items() if n not in self._tools)

    def __getitem__(self, name: str) -> Tool:
        tool = self._tools.get(name) or self._from_sources.get(name)
        if tool is None:
            raise KeyError(name)
        return tool

    def rows(self) -> list[tuple[str, str, str]]:
        """``(name, source, approval)`` of every tool (MCP servers not started yet show as one row)."""
        rows = [(t.name, t.source, "ask" if self.asks(t) else "auto") for t in self]
        started = {t.source for t in self._from_sources.values()}
        rows += [(f"{name} (not started)", f"mcp:{name}", approval or "server's")
                 for name, (_, approval) in self._sources.items() if f"mcp:{name}" not in started]
        return rows

    def __repr__(self) -> str:
        rows = self.rows()
        if not rows:
            return "<no tools: s.tools.add(my_function)>"
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{n.ljust(width)}  {a:4}  {s}" for n, s, a in rows)

    def asks(self, tool: Tool) -> bool:
        return tool.approval == "ask" and tool.name not in self._always

    async def resolve(self) -> dict[str, Tool]:
        """(hub loop) Every tool by name, asking the tool sources (MCP servers: started on first use)."""
        for name, (source, approval) in list(self._sources.items()):
            if any(t.source == f"mcp:{name}" for t in self._from_sources.values()):
                continue
            for tool in await source.list_tools():
                if approval is not None:
                    tool = replace(tool, approval=approval)
                self._from_sources[tool.name] = tool
        return {**self._from_sources, **self._tools}

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(t.spec() for t in self)


def _always_ask(tool: Tool) -> bool:
    """Built-ins that run code or change the notebook ask, whatever ``approval=`` says."""
    return tool.source == "notebook" and tool.approval == "ask"


# -- running calls -------------------------------------------------------------------------------------
#: approve(call) -> bool; an async one is awaited.
Approver = Callable[[ToolCall], "bool | Awaitable[bool]"]


@dataclass
class Decision:
    """The answer to an approval request."""

    approved: bool
    reason: str = ""
    always: bool = False


async def run_tool(tool: Tool, call: ToolCallPart, main: MainThread,
                   default_timeout: float = DEFAULT_TIMEOUT_S) -> ToolResultPart:
    """Run one approved call with its timeout; errors become error results."""
    from .context import result_parts

    arguments = dict(call.arguments)
    if RAW_ARGUMENTS in arguments:
        return _error(call, f"the arguments were not a JSON object: {str(arguments[RAW_ARGUMENTS])[:200]}")
    timeout = tool.timeout if tool.timeout is not None else default_timeout
    try:
        async with asyncio.timeout(timeout):
            if tool.main_thread:
                context = contextvars.copy_context()
                value = await main.submit(lambda: context.run(_sync, tool, arguments))
            elif tool.is_async:
                value = await tool.run(arguments)
            else:
                value = await asyncio.to_thread(tool.run, arguments)
            if inspect.isawaitable(value):
                value = await value
    except TimeoutError:
        return _error(call, f"{tool.name} did not finish within {timeout:g} s")
    except ToolFailed as exc:
        return _error(call, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.info("tool %s failed: %s", tool.name, exc)
        return _error(call, f"{type(exc).__name__}: {exc}")
    return ToolResultPart(call.id, result_parts(value, RESULT_CHARS), False, call.name)


def _sync(tool: Tool, arguments: dict[str, Any]) -> Any:
    value = tool.run(arguments)
    if inspect.isawaitable(value):  # an async tool that asked for the main thread: run it to the end there
        return asyncio.run(value)  # type: ignore[arg-type]
    return value


def _error(call: ToolCallPart, text: str) -> ToolResultPart:
    return ToolResultPart(call.id, (TextPart(text),), True, call.name)


def refused(call: ToolCallPart, reason: str) -> ToolResultPart:
    """The result of a call that was not run: the model is told why, and the reply goes on."""
    return _error(call, f"not run: {reason}")


class ToolExecutor:
    """Runs one reply's tool calls: approval where asked, then the calls (in parallel), results in the
    order of the calls. Events tell front ends what happens (``tool.approval.*``, ``tool.call.*``)."""

    def __init__(self, box: ToolBox, broker: ApprovalBroker, main: MainThread,
                 emit: Callable[[EventKind, dict[str, Any]], None], session_id: str,
                 approve: Approver | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout = timeout
        self.box = box
        self.broker = broker
        self.main = main
        self.emit = emit
        self.session_id = session_id
        self.approve = approve
        self._tools: dict[str, Tool] | None = None

    async def specs(self) -> tuple[ToolSpec, ...]:
        """(hub loop) The tools offered to the model (MCP servers are asked on first use)."""
        if self._tools is None:
            self._tools = await self.box.resolve()
        return tuple(t.spec() for t in self._tools.values())

    async def execute(self, calls: tuple[ToolCallPart, ...], reply: Any) -> tuple[ToolResultPart, ...]:
        tools = self._tools if self._tools is not None else await self.box.resolve()
        return tuple(await asyncio.gather(*(self._one(call, tools.get(call.name), reply.id) for call in calls)))

    async def _one(self, call: ToolCallPart, tool: Tool | None, message_id: str) -> ToolResultPart:
        base = {"message_id": message_id, "call_id": call.id, "name": call.name}
        if tool is None:
            known = ", ".join(self._tools or {}) or "none"
            return refused(call, f"there is no tool named {call.name!r} (tools: {known})")
        if self.box.asks(tool):
            request = ToolCall(call.id, call.name, dict(call.arguments), tool.source, self.session_id)

            def report(stage: str, c: ToolCall, details: dict[str, Any]) -> None:
                if stage == "requested":
                    self.emit(EventKind.TOOL_APPROVAL_REQUESTED,
                              {**base, "source": c.source, "arguments": c.arguments, **details})
                else:
                    self.emit(EventKind.TOOL_APPROVAL_DECIDED, {**base, **details})

            decision = await self.broker.decide(request, self.approve, report)
            if decision.always:
                self.box.allow(tool.name)
            if not decision.approved:
                return refused(call, decision.reason)
        started = time.monotonic()
        self.emit(EventKind.TOOL_CALL_STARTED, {**base, "source": tool.source})
        current_session.set(self.session_id)  # this task's own context: tools see their session
        result = await run_tool(tool, call, self.main, self.timeout)
        self.emit(EventKind.TOOL_CALL_FINISHED, {**base, "source": tool.source, "is_error": result.is_error,
                                                 "seconds": round(time.monotonic() - started, 3)})
        return result
