"""MCP servers as tool sources (T1), through the official SDK: a server written with the SDK's own server
API, over stdio and over streamable HTTP on 127.0.0.1; started on first use, stopped with the hub,
restarted after a crash, never given the kernel's keys, with a clear error when it cannot start."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_sessions import AiSessionsError, MessageStatus
from ai_sessions.parts import ToolCallPart, ToolResultPart
from tests.scripted import SCRIPTS, Script

pytest.importorskip("mcp")
ROOT = Path(__file__).resolve().parents[2]
STDIO = [sys.executable, "-m", "tests.mcp.calc_server"]


def call(name: str, **arguments: object) -> ToolCallPart:
    return ToolCallPart(f"call-{name}", name, arguments)


def results(message) -> list[ToolResultPart]:
    return [p for p in message.parts if isinstance(p, ToolResultPart)]


@pytest.fixture
def http_server() -> Iterator[str]:
    """The same MCP server over streamable HTTP (uvicorn on 127.0.0.1), stopped afterwards."""
    import uvicorn

    from tests.mcp.calc_server import server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(server.streamable_http_app(), host="127.0.0.1", port=port, log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        assert time.monotonic() < deadline, "the MCP HTTP server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/mcp"
    web.should_exit = True
    thread.join(10)


def test_a_stdio_server_s_tools_are_called_in_a_reply(hub, monkeypatch):
    monkeypatch.chdir(ROOT)
    calc = hub.mcp("calc", command=STDIO)
    SCRIPTS["m"] = Script(chunks=["ok"], calls=[[call("add", a=2, b=3)]])
    s = hub.session("s", model="scripted:m", tools=[calc])
    reply = s.send("What is 2 + 3?")
    [result] = results(reply)
    assert (result.text, result.is_error) == ("5", False)
    assert [spec.name for spec in SCRIPTS["m"].requests[0].tools] == ["add", "environment", "pid", "crash", "divide"]
    assert [row for row in s.tools.rows() if row[0] == "add"] == [("add", "mcp:calc", "auto")]


def test_the_server_stops_with_the_hub(make_hub, monkeypatch):
    monkeypatch.chdir(ROOT)
    hub = make_hub()
    SCRIPTS["m"] = Script(chunks=["ok"], calls=[[call("pid")]])
    s = hub.session("s", model="scripted:m", tools=[hub.mcp("calc", command=STDIO)])
    [result] = results(s.send("pid?"))
    pid = int(result.text)
    os.kill(pid, 0)  # running
    hub.shutdown()
    deadline = time.monotonic() + 10
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the MCP server outlived its hub"
        time.sleep(0.05)


def test_a_streamable_http_server_works_the_same(hub, http_server):
    SCRIPTS["m"] = Script(chunks=["ok"], calls=[[call("divide", a=1, b=0)], [call("add", a=40, b=2)]])
    s = hub.session("s", model="scripted:m", tools=[hub.mcp("web", url=http_server)])
    reply = s.send("Divide, then add.")
    error, ok = results(reply)
    assert error.is_error and error.text == "Error executing tool divide"  # the server's own words
    assert (ok.text, ok.is_error) == ("42", False)
    assert reply.status is MessageStatus.COMPLETE


def test_a_server_gets_only_its_own_environment(hub, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-must-not-reach-mcp")
    SCRIPTS["m"] = Script(chunks=["ok"], calls=[[call("environment")]])
    s = hub.session("s", model="scripted:m", tools=[hub.mcp("calc", command=STDIO, env={"CALC_MODE": "test"})])
    [result] = results(s.send("env?"))
    names = result.text.split()
    assert "CALC_MODE" in names and "OPENAI_API_KEY" not in names


def test_a_crashed_server_is_started_again_on_the_next_use(hub, monkeypatch):
    monkeypatch.chdir(ROOT)
    SCRIPTS["m"] = Script(chunks=["ok"], calls=[[call("crash")], [call("add", a=1, b=1)]])
    s = hub.session("s", model="scripted:m", tools=[hub.mcp("calc", command=STDIO)])
    crashed, added = results(s.send("crash, then add"))
    assert crashed.is_error
    assert (added.text, added.is_error) == ("2", False)


def test_a_server_that_cannot_start_is_a_clear_error_naming_it(hub, monkeypatch):
    monkeypatch.chdir(ROOT)
    SCRIPTS["m"] = Script(chunks=["ok"])
    s = hub.session("s", model="scripted:m", tools=[hub.mcp("broken", command=[*STDIO, "--fail"])])
    with pytest.raises(AiSessionsError, match="MCP server 'broken' could not start"):
        s.send("hi")


def test_an_unknown_server_name_says_how_to_declare_it(hub):
    with pytest.raises(AiSessionsError, match=r"\[mcp.nowhere\]"):
        hub.mcp("nowhere")
