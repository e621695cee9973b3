"""The ``%ai_session`` subcommands about tools and agents: ``tools`` and ``agents``."""

from __future__ import annotations

from .magic_commands import MagicContext, Table, arg, command


@command("tools", "list the tools of NAME (or of the current session) and where they come from",
         arg("name", nargs="?"))
def cmd_tools(ctx: MagicContext, name: str | None) -> Table:
    session = ctx.session(name)
    rows = tuple((tool, source, approval) for tool, source, approval in session.tools.rows())
    caption = "" if rows else f"{session.name!r} has no tools: session.tools.add(my_function)"
    return Table(("tool", "source", "approval"), rows, caption)


@command("agents", "list the agent presets of the settings ([agents.NAME])")
def cmd_agents(ctx: MagicContext) -> Table:
    rows = tuple((a.name, a.model or "(default)", ", ".join(a.tools), a.description) for a in ctx.hub.agents())
    caption = "" if rows else "no agents: declare [agents.NAME] in settings.toml"
    return Table(("agent", "model", "tools", "description"), rows, caption)
