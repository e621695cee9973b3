"""Figure 1, streaming overhead: a fixed reply streamed as fast as a local server can, consumed by the raw
SDK (baseline) and by ``session.send`` through the hub with one bound chat widget and the store on (ours),
alternating, repeated; medians of the total time and of the time to first token."""

from __future__ import annotations

import os
from typing import Any

from .common import Row, Sizes, isolated_env, make_hub, median
from .ours import Ours
from .sdk import SdkBaseline
from .server import PROTOCOLS, ServerProcess, expected_text, prompt, provider_options

KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
NAMES = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Gemini"}
RATIO_BUDGET = 1.05
TTFT_BUDGET_MS = 5.0
#: The first text reaches the browser at most this long after the first token, at any stream rate.
FIRST_SEND_BUDGET_MS = 60.0


def measure(protocol: str, tokens: int, repeats: int, warmup: int = 2) -> dict[str, Any]:
    """Raw per-repeat numbers for one protocol: totals and first-token times, ours and baseline."""
    with ServerProcess(protocol) as server, isolated_env() as tmp:
        os.environ[KEY_ENV[protocol]] = server.key
        hub = make_hub(tmp, {protocol: provider_options(protocol, server.url)})
        baseline = SdkBaseline(protocol, server.url, server.key)
        ours = Ours(hub, protocol)
        text = prompt(tokens)
        want = expected_text(tokens)
        result: dict[str, list[float]] = {"ours": [], "base": [], "ours_ttft": [], "base_ttft": [],
                                          "flush": [], "lag": [], "comms": []}
        try:
            for i in range(warmup + repeats):
                # alternate who goes first so neither always gets the warmer caches
                order = ("base", "ours") if i % 2 == 0 else ("ours", "base")
                for who in order:
                    total, first, got = (baseline if who == "base" else ours).run(text)
                    if got != want:
                        raise AssertionError(f"{who} received {len(got)} chars, expected {len(want)}")
                    if i < warmup:
                        continue
                    result[who].append(total)
                    result[f"{who}_ttft"].append(first)
                    if who == "ours":
                        flush, token = ours.first_flush(), ours.first_token()
                        if flush is not None and token is not None:
                            result["flush"].append(flush)
                            result["lag"].append(flush - token)
                        assert ours.comms is not None
                        result["comms"].append(float(ours.comms.count()))
        finally:
            baseline.close()
            hub.shutdown()
        return result


def run(sizes: Sizes) -> list[Row]:
    tokens = sizes.pick(2000, 200)
    repeats = sizes.pick(15, 3)
    rows: list[Row] = []
    for protocol in PROTOCOLS:
        r = measure(protocol, tokens, repeats, warmup=sizes.pick(3, 1))
        ours, base = median(r["ours"]), median(r["base"])
        ratio = ours / base
        name = NAMES[protocol]
        rows.append(Row(f"1 Streaming {tokens} tokens, {name}: total time", ours * 1000, base * 1000, "ms",
                        f"ratio ≤ {RATIO_BUDGET}", ratio <= RATIO_BUDGET,
                        note=f"median of {repeats}; raw `{protocol}` SDK vs session.send + hub + widget + store",
                        baseline_label=f"raw {protocol} SDK", extra={"runs": r}))
        ours_ttft, base_ttft = median(r["ours_ttft"]), median(r["base_ttft"])
        added = (ours_ttft - base_ttft) * 1000
        rows.append(Row(f"1 Streaming, {name}: time to first token", ours_ttft * 1000, base_ttft * 1000, "ms",
                        f"added ≤ {TTFT_BUDGET_MS:g} ms", added <= TTFT_BUDGET_MS,
                        note=f"added {added:+.2f} ms (median); first delta event on the hub vs the SDK's first "
                             "text; includes storing the user message and the empty reply"))
        if r["flush"]:
            rows.append(first_send_row(f"1 Streaming, {name}: first text sent to the browser", r["flush"],
                                       r["ours_ttft"], r["lag"],
                                       f"full speed, {len(r['lag'])} replies; the SDK's own "
                                       f"first text: {base_ttft * 1000:.2f} ms"))
    return rows


def first_send_row(label: str, flush: list[float], token: list[float], lag: list[float], how: str) -> Row:
    """The budget row for the first text reaching the browser: the widget's first delta comm message
    after the reply's first token (its first delta event on the hub), worst reply over the budget."""
    worst = max(lag) * 1000
    return Row(label, median(flush) * 1000, median(token) * 1000, "ms", f"≤ first token + {FIRST_SEND_BUDGET_MS:g} ms",
               worst <= FIRST_SEND_BUDGET_MS, baseline_label="first token",
               note=f"from the request: the widget's first delta comm message vs the first delta event (medians); "
                    f"added per reply: median {median(lag) * 1000:.2f} ms, worst {worst:.2f} ms (the budget); "
                    f"{how}")
