"""The ``%ai_session search`` subcommand: full-text search over the stored sessions."""

from __future__ import annotations

from .magic_commands import MagicContext, Table, arg, command


@command("search", "find messages in this notebook's sessions (--all: every notebook's), best match first",
         arg("query", nargs="+"), arg("--all", action="store_true", dest="all_scopes"),
         arg("--limit", type=int, default=20))
def cmd_search(ctx: MagicContext, query: list[str], all_scopes: bool, limit: int) -> Table:
    text = " ".join(query)
    hits = ctx.hub.search(text, all_scopes=all_scopes, limit=limit)
    rows = tuple((hit.session_name, hit.position, hit.role, hit.snippet) for hit in hits)
    caption = "" if rows else f"no message matches {text!r}"
    return Table(("session", "message", "role", "snippet"), rows, caption)
