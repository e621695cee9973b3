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
                                          "flush": [], "comms": []}
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
                        flush = ours.first_flush()
                        if flush is not None:
                            result["flush"].append(flush)
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
            flush = median(r["flush"]) * 1000
            rows.append(Row(f"1 Streaming, {name}: first text sent to the browser", flush, base_ttft * 1000, "ms",
                            "report only", None,
                            note="the widget's first delta comm message; the widget batches text every 50 ms"))
    return rows
