"""The first use of a provider must not stall the sessions streaming on the hub loop (issue 9): its SDK is
imported, and its client made and warmed, in a worker thread (``Provider.prepare``, ``CloudProvider.warm``).

Each measurement is a fresh process (so the SDK is not imported yet): a hub with two providers, one
session streaming from the first at 200 tokens/s, and a ticker on the hub loop (every ``TICK_S``) noting
how late each tick runs. The longest lateness is the longest stall of the hub loop (the budget); the most
CPU the hub thread spent between two ticks is the part of it that was work on the loop (other processes on
the machine do not inflate it), and the full garbage collections in the window are the part no thread can
avoid. Baseline: the same process and stream over an equal window before the first use. Then another
session sends a prompt to the second provider (first use: SDK import, client, first request) and the
window runs until that reply is complete.

``python -m bench.first_use STREAM FIRST [SECONDS] [--why]`` runs one measurement against running bench
servers (their URLs in ``BENCH_URL_<PROTOCOL>``, their key in ``BENCH_KEY``) and prints JSON; ``--why``
adds the stacks of every thread during each stall over 20 ms (sampled by a watchdog thread).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

from .common import ROOT, Row, Sizes, isolated_env, make_hub, median
from .server import MODELS, ServerProcess, prompt, provider_options

STALL_BUDGET_MS = 50.0
TICK_S = 0.001
#: (streaming provider, provider used for the first time): every SDK gets a first use.
PAIRS = (("openai", "anthropic"), ("openai", "gemini"), ("anthropic", "openai"))
SDK_MODULE = {"openai": "openai", "anthropic": "anthropic", "gemini": "google.genai"}
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}


class Ticker:
    """Runs on the hub loop every ``TICK_S``; keeps (time, lateness, hub-thread CPU seconds since the
    previous tick) of each tick. Lateness is what a stall costs the sessions (and grows when the machine
    is busy); the CPU the hub thread spent between two ticks is the work that held the loop, which
    other processes on the machine do not inflate."""

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.ticks: list[tuple[float, float, float]] = []
        self.last = time.perf_counter()
        self._due = 0.0
        self._cpu = 0.0
        self._stopped = False

    def start(self) -> None:
        self.loop.call_soon_threadsafe(self._schedule)

    def stop(self) -> None:
        self._stopped = True

    def _schedule(self) -> None:
        self._due = time.perf_counter() + TICK_S
        self._cpu = time.thread_time()
        self.loop.call_later(TICK_S, self._tick)

    def _tick(self) -> None:
        now = self.last = time.perf_counter()
        self.ticks.append((now, now - self._due, time.thread_time() - self._cpu))
        if not self._stopped:
            self._schedule()

    def worst(self, start: float, end: float) -> tuple[float, float]:
        """(longest lateness, most hub-thread CPU between two ticks) of the ticks that ran within
        [start, end] (a stall spanning ``end`` counts)."""
        ticks = [(late, cpu) for t, late, cpu in self.ticks if start <= t <= end + late]
        return max((x[0] for x in ticks), default=0.0), max((x[1] for x in ticks), default=0.0)


class Watchdog(threading.Thread):
    """Samples every thread's stack while the ticker is over 20 ms late (what stalls the hub loop)."""

    def __init__(self, ticker: Ticker) -> None:
        super().__init__(daemon=True, name="bench-watchdog")
        self.ticker = ticker
        self.samples: list[dict[str, Any]] = []
        self.running = True

    def run(self) -> None:
        import traceback

        while self.running:
            time.sleep(0.005)
            late = time.perf_counter() - self.ticker.last
            if late > 0.02:
                names = {t.ident: t.name for t in threading.enumerate()}
                stacks = {names.get(ident, str(ident)): traceback.format_stack(frame)[-6:]
                          for ident, frame in sys._current_frames().items() if ident != self.ident}
                self.samples.append({"late_ms": round(late * 1000, 1), "stacks": stacks})


class FullCollections:
    """Times of the garbage collector's full (generation 2) collections: (start, seconds), any thread.
    A full collection holds the GIL throughout, so it stalls the hub loop whichever thread runs it."""

    def __init__(self) -> None:
        self.runs: list[tuple[float, float]] = []
        self._began = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.runs.append((self._began, time.perf_counter() - self._began))

    def within(self, start: float, end: float) -> list[float]:
        return [round(seconds * 1000, 1) for began, seconds in self.runs if start <= began <= end]


def measure_once(stream: str, first: str, window: float = 2.0, why: bool = False) -> dict[str, Any]:
    """One measurement in this process (which must not have imported ``first``'s SDK); ``window``:
    seconds of the baseline window."""
    assert SDK_MODULE[first] not in sys.modules, f"{SDK_MODULE[first]} is imported already"
    with isolated_env() as tmp:
        for protocol in (stream, first):
            os.environ[KEY_ENV[protocol]] = os.environ["BENCH_KEY"]
        urls = {p: os.environ[f"BENCH_URL_{p.upper()}"] for p in (stream, first)}
        hub = make_hub(tmp, {p: provider_options(p, urls[p]) for p in (stream, first)})
        try:
            hub.session("warm-up", model=f"{stream}:{MODELS[stream]}").send(prompt(5))
            assert SDK_MODULE[first] not in sys.modules, f"{SDK_MODULE[first]} was imported by the warm-up"
            ticker = Ticker(hub.runtime.loop.loop)
            watchdog = Watchdog(ticker)
            collections = FullCollections()
            collections.start()
            ticker.start()
            if why:
                watchdog.start()
            streaming = hub.session("streaming", model=f"{stream}:{MODELS[stream]}")
            handle = streaming.submit(prompt(4000, 200))
            time.sleep(0.3)
            alone_start = time.perf_counter()
            time.sleep(window)  # the baseline window (a first use takes 1-3 s here)
            first_start = time.perf_counter()
            reply = hub.session("first", model=f"{first}:{MODELS[first]}").send(prompt(20))
            first_end = time.perf_counter()
            assert reply.content and not handle.done(), "the streaming reply ended before the first use did"
            streaming.cancel()
            ticker.stop()
            watchdog.running = False
            collections.stop()
            alone, first_use = ticker.worst(alone_start, first_start), ticker.worst(first_start, first_end)
            return {"alone_ms": alone[0] * 1000, "first_ms": first_use[0] * 1000,
                    "alone_cpu_ms": alone[1] * 1000, "first_cpu_ms": first_use[1] * 1000,
                    "first_use_s": first_end - first_start, "ticks": len(ticker.ticks),
                    "alone_gc_ms": collections.within(alone_start, first_start),
                    "first_gc_ms": collections.within(first_start, first_end),
                    "stalls": watchdog.samples if why else []}
        finally:
            hub.shutdown()


def run_child(stream: str, first: str, urls: dict[str, str], key: str, window: float = 2.0,
              why: bool = False) -> dict[str, Any]:
    """One measurement in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_KEY": key,
           **{f"BENCH_URL_{p.upper()}": u for p, u in urls.items()}}
    args = [sys.executable, "-m", "bench.first_use", stream, first, str(window), *(["--why"] if why else [])]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"first-use measurement failed: {done.stderr.strip()[-600:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(sizes: Sizes) -> list[Row]:
    repeats = sizes.pick(3, 1)
    window = sizes.pick(2.0, 0.3)
    pairs = PAIRS if not sizes.smoke else PAIRS[:1]
    servers = [ServerProcess(p) for p in sorted({p for pair in pairs for p in pair})]
    try:
        urls = {s.protocol: s.url for s in servers}
        results: dict[str, list[dict[str, Any]]] = {first: [] for _, first in pairs}
        for _ in range(repeats):
            for stream, first in pairs:
                results[first].append(run_child(stream, first, urls, servers[0].key, window))
    finally:
        for server in servers:
            server.stop()
    every = [r for rs in results.values() for r in rs]
    worst, alone = max(r["first_ms"] for r in every), max(r["alone_ms"] for r in every)
    per = "; ".join(f"{first} {max(r['first_ms'] for r in rs):.0f} ms (hub CPU "
                    f"{max(r['first_cpu_ms'] for r in rs):.0f} ms, full GCs "
                    f"{[g for r in rs for g in r['first_gc_ms']] or 'none'}, first reply "
                    f"{median([r['first_use_s'] for r in rs]):.1f} s)" for first, rs in results.items())
    return [Row("4 First use of a provider: longest hub-loop stall while a session streams", worst, alone, "ms",
                f"≤ {STALL_BUDGET_MS:g} ms", worst <= STALL_BUDGET_MS, baseline_label="streaming alone",
                note=f"fresh process each, worst of {repeats} per provider: a ticker on the hub loop every "
                     f"{TICK_S * 1000:g} ms, its lateness while another session's first reply from a provider not "
                     f"yet imported runs (import, client, request) next to a 200 tokens/s stream; per provider: "
                     f"{per} (hub CPU: most CPU the hub thread spent between two ticks; full GCs: ms of each "
                     f"full collection in the window, any thread); baseline: the worst over "
                     f"{window:g} s of the same stream before", extra={"runs": results})]


def main() -> None:
    stream, first = sys.argv[1], sys.argv[2]
    window = float(sys.argv[3]) if len(sys.argv) > 3 and not sys.argv[3].startswith("-") else 2.0
    print(json.dumps(measure_once(stream, first, window, why="--why" in sys.argv)))


if __name__ == "__main__":
    main()
