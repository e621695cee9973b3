"""An MCP server for the tests, written with the SDK's own server API: run it over stdio
(``python -m tests.mcp.calc_server``) or mount ``server.streamable_http_app()`` over HTTP."""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("calc")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def environment() -> str:
    """The names of the environment variables this server sees."""
    return " ".join(sorted(os.environ))


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def crash() -> str:
    """Stop the server process at once (to test restarts)."""
    os._exit(3)


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fail":
        sys.exit("cannot start: no database")
    server.run("stdio")
