"""Figure 2, comm traffic: the comm messages a bound chat widget sends for one reply (trait updates and
custom delta messages, counted at the widget's comm), against one message per token (the naive design).

Measured for real, not simulated: a reply streamed as fast as the server can, and paced replies
(60 s at 100 tokens/s, and, at the same time, 60 s at 500 tokens/s to show the count does not follow
the token count). Budget: ≤ 3 + 25 per second of streaming.
"""

from __future__ import annotations

import os
from typing import Any

from .common import Row, Sizes, isolated_env, make_hub
from .ours import Ours
from .server import ServerProcess, expected_text, prompt, provider_options
from .streaming import first_send_row

PROTOCOL = "openai"


def budget(seconds: float) -> float:
    return 3 + 25 * seconds


def replies(specs: list[tuple[int, float]]) -> list[dict[str, Any]]:
    """Run one reply per (tokens, rate) at the same time, each in its own session with its own widget;
    returns per reply its duration, comm messages by kind, and token count."""
    with ServerProcess(PROTOCOL) as server, isolated_env() as tmp:
        os.environ["OPENAI_API_KEY"] = server.key
        hub = make_hub(tmp, {PROTOCOL: provider_options(PROTOCOL, server.url)})
        try:
            runners = [Ours(hub, PROTOCOL) for _ in specs]
            runners[0].run(prompt(20))  # warm up the client and connection
            sessions = [r.prepare() for r in runners]
            handles = [s.submit(prompt(tokens, rate)) for s, (tokens, rate) in zip(sessions, specs, strict=True)]
            out = []
            for handle, runner, (tokens, rate) in zip(handles, runners, specs, strict=True):
                message = handle.result(600)
                if message.content != expected_text(tokens):
                    raise AssertionError("paced reply text differs from what the server sent")
                assert runner.comms is not None and message.completed_at is not None
                user = handle.session.messages[-2]
                kinds: dict[str, int] = {}
                for _, kind in runner.comms.messages:
                    kinds[kind] = kinds.get(kind, 0) + 1
                out.append({"tokens": tokens, "rate": rate, "seconds": message.completed_at - user.created_at,
                            "messages": runner.comms.count(), "kinds": kinds, "flush": runner.first_flush(),
                            "token": runner.first_token()})
            return out
        finally:
            hub.shutdown()


def _row(label: str, r: dict[str, Any], note: str) -> Row:
    limit = budget(r["seconds"])
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items()))
    return Row(label, r["messages"], r["tokens"], "messages", f"≤ 3 + 25/s = {limit:.0f}", r["messages"] <= limit,
               note=f"{note}; {r['seconds']:.2f} s of streaming; {kinds}", baseline_label="one per token",
               extra=r)


def run(sizes: Sizes) -> list[Row]:
    fast_tokens = sizes.pick(2000, 200)
    seconds = sizes.pick(60.0, 0.5)
    fast = replies([(fast_tokens, 0.0)])[0]
    slow, dense = replies([(int(100 * seconds), 100.0), (int(500 * seconds), 500.0)])
    rows = [
        _row(f"2 Comm messages, {fast_tokens}-token reply at full speed", fast, "measured"),
        _row(f"2 Comm messages, {seconds:g} s reply at 100 tokens/s", slow, "measured in real time"),
        _row(f"2 Comm messages, {seconds:g} s reply at 500 tokens/s", dense,
             "measured in real time, alongside the 100 tokens/s reply: 5x the tokens, about the same count"),
    ]
    paced = [r for r in (slow, dense) if r["flush"] is not None and r["token"] is not None]
    if paced:
        rows.append(first_send_row("2 First text sent to the browser at 100 and 500 tokens/s",
                                   [r["flush"] for r in paced], [r["token"] for r in paced],
                                   [r["flush"] - r["token"] for r in paced],
                                   "the two paced replies, streaming at the same time"))
    per_s = (slow["messages"] - 3) / slow["seconds"]
    rows.append(Row("2 Comm message rate while streaming", per_s, 25.0, "messages/s", "≤ 25/s", per_s <= 25,
                    note="(messages - 3) / seconds of the 100 tokens/s reply; the widget flushes every 50 ms",
                    baseline_label="budget rate", ratio=per_s / 25.0))
    return rows
