"""Figure 6, model switch: ``session.switch_model`` between two providers' models, called from the
kernel's main thread as a cell would, with and without a bound chat widget; against an empty call onto
the hub thread (the hop every switch must make), measured alternately in the same run."""

from __future__ import annotations

import os
import time

from .common import Row, Sizes, isolated_env, make_hub, median

BUDGET_MS = 1.0
MODELS = ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5")
PER_SESSION = 20


def run(sizes: Sizes) -> list[Row]:
    count = sizes.pick(300, 20)
    with isolated_env() as tmp:
        os.environ["OPENAI_API_KEY"] = os.environ["ANTHROPIC_API_KEY"] = "sk-bench-not-used"
        hub = make_hub(tmp, default_model=MODELS[0])
        try:
            from ai_sessions.widgets import ChatWidget

            bare = hub.session("bare")
            shown = hub.session("shown")
            widget = ChatWidget(session=shown, hub=hub)
            times: dict[str, list[float]] = {"bare": [], "widget": [], "hop": []}
            for i in range(count + 10):
                if i and i % PER_SESSION == 0:  # a real session sees a few switches, not hundreds: start afresh
                    bare, shown = hub.session(f"bare-{i}"), hub.session(f"shown-{i}")
                    widget.session_id = shown.id
                model = MODELS[(i + 1) % 2]
                for name, target in (("hop", None), ("bare", bare), ("widget", shown)):
                    began = time.perf_counter()
                    if target is None:
                        hub.runtime.loop.call(lambda: None)
                    else:
                        target.switch_model(model, reason="bench")
                    if i >= 10:
                        times[name].append(time.perf_counter() - began)
            assert widget.model == shown.model and len(shown.model_switches) == (count + 10) % PER_SESSION
            widget.close()
        finally:
            hub.shutdown()
    hop = median(times["hop"]) * 1000
    rows = []
    for name, label in (("bare", "no widget"), ("widget", "one bound chat widget")):
        ours = median(times[name]) * 1000
        note = (f"median of {count}, alternating two providers, {PER_SESSION} per session; logged and stored; "
                "baseline: an empty call onto the hub thread")
        rows.append(Row(f"6 switch_model ({label})", ours, hop, "ms", f"≤ {BUDGET_MS:g} ms (design docs: 500 ms)",
                        ours <= BUDGET_MS, note=note, baseline_label="empty hub call"))
    return rows
