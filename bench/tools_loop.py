"""Figure 8, the tool loop: one reply with three tool rounds (the model calls ``count_rows``, gets the
result, calls again ...) and then its answer, from a local OpenAI-protocol server. Ours: ``session.send``
with the function added as a tool, through the hub with the store on and a bound chat widget. Baseline:
the same loop written by hand on the raw openai SDK (stream, assemble the calls, run them, send the results
back, until the model answers). Alternating, repeated; medians.

The server (the project's wire-faithful OpenAI test server) runs in a child process, as in figure 1:
``python -m bench.tools_loop`` prints its URL and serves until stdin closes. A request's reply follows
how many tool rounds its messages already hold: a short text and a call while fewer than three, then the
answer (``[[tools tokens=N]]`` in the prompt sets its length).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

from .common import ROOT, Row, Sizes, isolated_env, make_hub, median
from .ours import CommCounter
from .server import token_text

ROUNDS = 3
RATIO_BUDGET = 1.05
MODEL = "gpt-4o-mini"
ROUND_TEXT = "Let me count that table. "
TABLES = {"orders": 1200, "customers": 87, "items": 3100}
TAG = re.compile(r"\[\[tools tokens=(\d+)\]\]")
MAX_TOKENS = 1024


def count_rows(table: str) -> int:
    """Count the rows of a table.

    Args:
        table: the table's name, e.g. "orders"
    """
    return TABLES[table]


TOOL_SCHEMA = {"type": "function", "function": {
    "name": "count_rows", "description": "Count the rows of a table.",
    "parameters": {"type": "object", "properties": {"table": {"type": "string", "description": "the table's name"}},
                   "required": ["table"]}}}


def prompt(tokens: int) -> str:
    return f"How many rows have orders, customers and items? [[tools tokens={tokens}]]"


def answer_text(tokens: int) -> str:
    return "".join(token_text(i) for i in range(tokens))


def expected_text(tokens: int) -> str:
    """All the text of the reply: each tool round's text, then the answer."""
    return ROUND_TEXT * ROUNDS + answer_text(tokens)


# -- the server (child process) ----------------------------------------------------------------------
def _tool_stream(self: Any, proto: Any, model: str, body: Any, fault: Any, record: Any) -> None:
    """The handler's stream method: a call while the request holds fewer than ROUNDS tool rounds."""
    from tests.servers.replies import Call, Reply

    messages = body.get("messages", [])
    done = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    if done < ROUNDS:
        table = list(TABLES)[done]
        reply = Reply(text=ROUND_TEXT, calls=(Call("count_rows", {"table": table}, id=f"call_{done}"),))
    else:
        match = TAG.search(json.dumps(messages[0].get("content", "")))
        reply = Reply(text=answer_text(int(match.group(1)) if match else 20))
    head, pieces, tail = proto.events(model, body, reply)
    try:
        self._begin_sse()
        for event in (*head, *pieces, *tail):
            self._chunk(event)
        self._chunk(b"")
    except OSError:
        self.close_connection = True


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.servers.base import ProviderServer
    from tests.servers.openai_wire import OpenAIProtocol

    server = ProviderServer(OpenAIProtocol())
    base = server._httpd.RequestHandlerClass
    server._httpd.RequestHandlerClass = type("ToolBenchHandler", (base,), {"_stream": _tool_stream})
    print(server.url, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin (or dies)
    server.stop()


class _Server:
    def __enter__(self) -> _Server:
        self._proc = subprocess.Popen([sys.executable, "-m", "bench.tools_loop"], cwd=ROOT, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError(f"the tool bench server did not start (said {self.url!r})")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)


# -- the baseline: the loop by hand on the raw SDK -------------------------------------------------------
class HandLoop:
    """The tool loop a user would write on ``openai.AsyncOpenAI`` (one client, SDK retries off)."""

    def __init__(self, url: str, key: str) -> None:
        import openai

        self.loop = asyncio.new_event_loop()
        self.client = openai.AsyncOpenAI(api_key=key, base_url=f"{url}/v1", max_retries=0)

    def run(self, text: str) -> tuple[float, str, int]:
        began = time.perf_counter()
        got, rounds = self.loop.run_until_complete(self._reply(text))
        return time.perf_counter() - began, got, rounds

    async def _reply(self, text: str) -> tuple[str, int]:
        messages: list[dict[str, Any]] = [{"role": "user", "content": text}]
        everything: list[str] = []
        rounds = 0
        while True:
            parts: list[str] = []
            calls: dict[int, dict[str, Any]] = {}
            finish = None
            stream = await self.client.chat.completions.create(
                model=MODEL, messages=messages, tools=[TOOL_SCHEMA], stream=True,
                stream_options={"include_usage": True}, max_completion_tokens=MAX_TOKENS)
            async with stream:
                async for chunk in stream:
                    for choice in chunk.choices:
                        delta = choice.delta
                        if delta.content:
                            parts.append(delta.content)
                        for piece in delta.tool_calls or ():
                            call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                            call["id"] = piece.id or call["id"]
                            if piece.function is not None:
                                call["name"] = piece.function.name or call["name"]
                                call["arguments"] += piece.function.arguments or ""
                        finish = choice.finish_reason or finish
            everything.append("".join(parts))
            if finish != "tool_calls" or not calls:
                return "".join(everything), rounds
            rounds += 1
            ordered = [calls[i] for i in sorted(calls)]
            messages.append({"role": "assistant", "content": "".join(parts) or None, "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in ordered]})
            for c in ordered:
                result = count_rows(**json.loads(c["arguments"]))
                messages.append({"role": "tool", "tool_call_id": c["id"], "content": str(result)})

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.client.close())
        finally:
            self.loop.close()


# -- ours ---------------------------------------------------------------------------------------------
class OursTools:
    """``session.send`` with ``count_rows`` as a tool, a new session per reply, one chat widget bound."""

    def __init__(self, hub: Any) -> None:
        from ai_sessions.widgets import ChatWidget

        self.hub = hub
        self._n = 0
        self.widget = ChatWidget(session=self._session(), hub=hub)
        self.comms = CommCounter(self.widget)

    def _session(self) -> Any:
        self._n += 1
        return self.hub.session(f"tools-{self._n}", model=f"openai:{MODEL}", tools=[count_rows])

    def run(self, text: str) -> tuple[float, str, int]:
        session = self._session()
        self.widget.session_id = session.id
        self.comms.reset()
        began = time.perf_counter()
        message = session.send(text)
        total = time.perf_counter() - began
        self.settle()
        return total, message.content, sum(1 for p in message.parts if p.kind == "tool_call")

    def settle(self) -> None:
        """Wait (untimed) for the work a reply leaves behind once send() returned: its final events on the
        hub thread (the widget's last updates) and queued store writes. Else it would run during the
        baseline's next reply and slow that one down."""
        for _ in range(3):
            self.hub.runtime.loop.call(lambda: None)
        self.hub.store.defer(lambda: None).result()


def measure(tokens: int, repeats: int, warmup: int) -> dict[str, list[float]]:
    from tests.servers.base import KEY

    result: dict[str, list[float]] = {"ours": [], "base": [], "pairs": [], "comms": []}
    want = expected_text(tokens)
    with _Server() as server, isolated_env() as tmp:
        os.environ["OPENAI_API_KEY"] = KEY
        hub = make_hub(tmp, {"openai": {"kind": "openai", "base_url": f"{server.url}/v1", "timeout": 120}})
        base = HandLoop(server.url, KEY)
        ours = OursTools(hub)
        try:
            for i in range(warmup + repeats):
                order = ("base", "ours") if i % 2 == 0 else ("ours", "base")
                for who in order:
                    total, got, rounds = (base if who == "base" else ours).run(prompt(tokens))
                    if got != want or rounds != ROUNDS:
                        raise AssertionError(f"{who}: {rounds} rounds, {len(got)} chars; expected {ROUNDS}, "
                                             f"{len(want)}")
                    if i >= warmup:
                        result[who].append(total)
                        if who == "ours":
                            result["comms"].append(float(ours.comms.count()))
                if i >= warmup:  # this round's two replies ran back to back: their ratio sees the same load
                    result["pairs"].append(result["ours"][-1] / result["base"][-1])
        finally:
            ours.widget.close()
            base.close()
            hub.shutdown()
    return result


def run(sizes: Sizes) -> list[Row]:
    sys.path.insert(0, str(ROOT))
    tokens = sizes.pick(400, 40)
    repeats = sizes.pick(31, 3)
    r = measure(tokens, repeats, warmup=sizes.pick(3, 1))
    ours, base = median(r["ours"]), median(r["base"])
    ratio = median(r["pairs"])
    return [Row(f"9 Tool loop: {ROUNDS} tool rounds then a {tokens}-token answer, OpenAI", ours * 1000, base * 1000,
                "ms", f"ratio ≤ {RATIO_BUDGET}", ratio <= RATIO_BUDGET, ratio=ratio,
                note=f"median of {repeats}, ratio: median of the {repeats} back-to-back pairs; the same loop by hand "
                     "on the raw openai SDK vs session.send with the function as a tool + hub + store + a bound chat "
                     "widget "
                     f"({median(r['comms']):.0f} comm messages per reply)",
                baseline_label="raw openai SDK, loop by hand", extra={"runs": r})]


if __name__ == "__main__":
    main()
