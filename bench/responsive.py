"""Issue 11 §6, side by side: the kernel's responsiveness while 50 sessions stream (figure 3's trivial-cell
round trip) under design options, each in its own real ipykernel, interleaved round by round (the order
rotates each round), so that the machine's load hits every option alike. Not part of ``make bench``:
``python -m bench.responsive [--rounds 5] [--only base,proc]`` prints a table and writes
``bench/.cache/responsive.json``.

Options (each a few lines of set-up code run in its kernel, or a prototype in bench/):

- ``base``: the code as it is.
- ``gc-freeze``: ``gc.freeze()`` once the hub is warm (SDK imported, first reply done): a full collection
  then skips everything alive at that moment (the kernel's modules, the SDK).
- ``gc-off``: no cyclic GC at all while streaming (a diagnostic: how much of the tail is GC).
- ``gc-thresholds``: ``gc.set_threshold(10000, 50, 50)`` (default 700, 10, 10): far fewer young and full
  collections, each a little longer.
- ``switch-1ms``: ``sys.setswitchinterval(0.001)``: a thread waiting for the GIL asks for it after 1 ms
  instead of 5 ms.
- ``uvloop``: the hub loop on uvloop instead of asyncio's selector loop.
- ``coalesce``: the hub loop waits 2 ms before each poll that would block, so one wake-up handles the events
  of several streams (fewer wake-ups and GIL hand-overs per event).
- ``proc``: provider I/O in a worker process (:mod:`bench.proc_provider`): the kernel gets one message per
  worker flush (``flush_ms``) carrying the text of every stream.
- ``proc-5ms``: the same, the worker flushing every 5 ms.
- ``elsewhere``: the 50 sessions stream in another kernel; the probed kernel runs nothing. The floor: what
  the machine's load alone costs a cell (no option can beat it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .common import CACHE, ROOT, isolated_env
from .concurrency import SETUP, Kernel, pct, probe
from .server import ServerProcess, provider_options

UVLOOP_PATH = os.environ.get("BENCH_UVLOOP_PATH", "")  # a --target dir holding uvloop, if not installed

GC_WATCH = """
import gc as _gc, time as _time, threading as _threading, psutil as _psutil
_me = _psutil.Process()
def _cpu():
    # (this process's CPU seconds, its children's (a worker process), the hub thread's)
    kids = sum(c.cpu_times().user + c.cpu_times().system for c in _me.children())
    hub = _hub.runtime.loop.call(_time.thread_time) if "_hub" in globals() else 0.0
    return [sum(_me.cpu_times()[:2]), kids, hub]
_gc_log, _gc_t = [], {}
def _gc_cb(phase, info):
    if phase == "start":
        _gc_t["t"] = _time.perf_counter()
    elif info["generation"] == 2:
        _gc_log.append(round((_time.perf_counter() - _gc_t["t"]) * 1000, 1))
_gc.callbacks.append(_gc_cb)
"""

PRE: dict[str, str] = {
    "uvloop": """
import asyncio as _asyncio, sys as _sys
if {path!r}:
    _sys.path.insert(0, {path!r})
import uvloop as _uvloop
_orig_new_loop = _asyncio.new_event_loop
_asyncio.new_event_loop = _uvloop.new_event_loop  # only while the hub is made (main thread)
""",
    "proc": """
from ai_sessions.providers import register as _register
from bench.proc_provider import ProcProvider as _ProcProvider
_register("proc", _ProcProvider)
""",
}
PRE["proc-5ms"] = PRE["proc"]

POST: dict[str, str] = {
    "gc-freeze": "import gc; gc.collect(); gc.freeze()",
    "gc-off": "import gc; gc.collect(); gc.disable()",
    "gc-thresholds": "import gc; gc.set_threshold(10000, 50, 50)",
    "switch-1ms": "import sys; sys.setswitchinterval(0.001)",
    "uvloop": "_asyncio.new_event_loop = _orig_new_loop\nassert 'uvloop' in type(_hub.runtime.loop.loop).__module__",
    "coalesce": """
import time as _time
_sel = _hub.runtime.loop.loop._selector
_orig_select = _sel.select
def _coalescing_select(timeout=None):
    if timeout is None or timeout > 0:  # the loop would block: let more streams' events arrive first
        _time.sleep(0.002)
        timeout = None if timeout is None else max(0.0, timeout - 0.002)
    return _orig_select(timeout)
_sel.select = _coalescing_select
""",
}

OPTIONS = ("base", "gc-freeze", "gc-off", "gc-thresholds", "switch-1ms", "uvloop", "coalesce", "proc", "proc-5ms",
           "elsewhere")


def provider_table(option: str, url: str) -> dict[str, Any]:
    options = provider_options("openai", url)
    if option.startswith("proc"):
        options = {**options, "kind": "proc", "inner": "openai", "flush_ms": 5.0 if option == "proc-5ms" else 0.0}
    return options


class Option:
    """One option's kernel(s): ``stream`` runs the sessions, ``probe`` gets the trivial cells."""

    def __init__(self, name: str, url: str, tmp: Path, env: dict[str, str]) -> None:
        self.name = name
        work = tmp / name
        work.mkdir()
        self.stream = Kernel(env)
        setup = PRE.get(name, "").format(path=UVLOOP_PATH) + GC_WATCH + SETUP.format(
            tmp=str(work), options=provider_table(name, url)) + POST.get(name, "")
        self.stream.execute(setup)
        self.probe = Kernel(env) if name == "elsewhere" else self.stream
        if self.probe is not self.stream:
            self.probe.execute(GC_WATCH)

    def round(self, n: int, tokens: int, rate: float) -> dict[str, Any]:
        self.stream.execute("_gc_log.clear(); _cpu0 = _cpu()")
        self.stream.execute(f"_start({n}, {tokens}, {rate})")
        busy: list[float] = []
        if self.probe is self.stream:
            busy = probe(self.probe, 600, until_done=True)
        else:
            while not self.stream.execute("", {"done": "__import__('json').dumps(_done())"})[1]["done"]:
                busy += probe(self.probe, 0.25)
        _, values = self.stream.execute("", {"wall": f"__import__('json').dumps(_wall({tokens}))",
                                             "gc": "__import__('json').dumps(_gc_log)",
                                             "cpu": "__import__('json').dumps([b - a for a, b in zip(_cpu0, _cpu())])"})
        return {"busy": busy, "wall": values["wall"], "gc2_ms": values["gc"], "cpu": values["cpu"]}

    def stop(self) -> None:
        self.stream.stop()
        if self.probe is not self.stream:
            self.probe.stop()


def summary(rounds: list[dict[str, Any]], budget_ms: float = 20.0) -> dict[str, Any]:
    cells = [b * 1000 for r in rounds for b in r["busy"]]
    worst = [max(r["busy"]) * 1000 for r in rounds]
    gc2 = [g for r in rounds for g in r["gc2_ms"]]
    return {"cells": len(cells), "p50": statistics.median(cells), "p90": pct(cells, 0.9), "p99": pct(cells, 0.99),
            "max": max(cells), "over": sum(c > budget_ms for c in cells),
            "worst_per_round": sorted(round(w, 1) for w in worst), "worst_median": statistics.median(worst),
            "wall_median": statistics.median(r["wall"] for r in rounds), "gc2_count": len(gc2),
            "gc2_max": max(gc2, default=0.0),
            "cpu": [statistics.median(r["cpu"][k] for r in rounds) for k in range(3)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.responsive", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(OPTIONS))
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=150)
    args = parser.parse_args(argv)
    names = [x for x in args.only.split(",") if x]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    began = time.monotonic()
    with ServerProcess("openai") as server, isolated_env() as tmp:
        env = {**os.environ, "OPENAI_API_KEY": server.key, "PYTHONPATH": str(ROOT)}
        options = [Option(name, server.url, tmp, env) for name in names]
        try:
            for i in range(args.rounds):
                order = options[i % len(options):] + options[:i % len(options)]
                for option in order:
                    r = option.round(args.sessions, args.tokens, 50.0)
                    results[option.name].append(r)
                    print(f"[responsive] round {i} {option.name:10} worst {max(r['busy']) * 1000:6.1f} ms "
                          f"p50 {statistics.median(r['busy']) * 1000:5.1f} ms gc2 {r['gc2_ms']} "
                          f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
        finally:
            for option in options:
                option.stop()
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "responsive.json").write_text(json.dumps(results))
    print(f"\n{args.rounds} rounds in {time.monotonic() - began:.0f} s, load average {os.getloadavg()}")
    print("| option | cells | p50 ms | p90 | p99 | max | over 20 ms | worst per round (sorted) | wall s | kernel CPU s "
          "(hub thread) | worker CPU s | gen-2 GCs (max ms) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for name in names:
        s = summary(results[name])
        kernel, worker, hub = s["cpu"]
        print(f"| {name} | {s['cells']} | {s['p50']:.1f} | {s['p90']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | "
              f"{s['over']} | {s['worst_per_round']} | {s['wall_median']:.2f} | {kernel:.2f} ({hub:.2f}) | "
              f"{worker:.2f} | {s['gc2_count']} ({s['gc2_max']:.0f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
