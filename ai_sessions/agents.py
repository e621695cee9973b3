"""Agents: named presets of model, system prompt, parameters and tools (``[agents.NAME]`` in settings).

A tool is named by what provides it: a built-in notebook tool (``run_python``), all of them
(``notebook``), an MCP server of the settings (``calc`` or ``mcp:calc``), or an entry point of the
``ai_sessions.tools`` group (a function, a :class:`~ai_sessions.tools.Tool` or a tool set) installed by a
package. A name that resolves to nothing is a clear error when the session starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import AiSessionsError
from .settings import Agent, Settings

TOOLS_ENTRY_POINT_GROUP = "ai_sessions.tools"


def find_agent(settings: Settings, name: str) -> Agent:
    agent = settings.agents.get(name)
    if agent is None:
        known = ", ".join(sorted(settings.agents)) or "none"
        raise AiSessionsError(f"no agent named {name!r} (agents: {known})",
                              hint=f"declare [agents.{name}] in settings.toml (model, system_prompt, tools)")
    return agent


def resolve_tools(agent: Agent, settings: Settings, mcp: Callable[[str], Any]) -> list[Any]:
    """The tools (and tool sources) an agent names; ``mcp(name)`` gives the hub's MCP server of a name."""
    resolved: list[Any] = []
    for name in agent.tools:
        item = _resolve(name, settings, mcp)
        if item is None:
            raise AiSessionsError(f"agent {agent.name!r} names tool {name!r}, which resolves to nothing",
                                  hint="use a notebook tool (list_variables, inspect, run_python, insert_cell, or "
                                       "'notebook' for all), an [mcp.NAME] server, or an installed "
                                       f"'{TOOLS_ENTRY_POINT_GROUP}' entry point")
        resolved.append(item)
    return resolved


def _resolve(name: str, settings: Settings, mcp: Callable[[str], Any]) -> Any:
    from .notebook import notebook_tools

    if name == "notebook":
        return notebook_tools
    for tool in notebook_tools:
        if tool.name == name:
            return tool
    server = name.removeprefix("mcp:")
    if server in settings.mcp:
        return mcp(server)
    from importlib.metadata import entry_points

    for ep in entry_points(group=TOOLS_ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()
    return None
