"""Figure 3, concurrency: many sessions streaming at once inside a real ipykernel, from a server pacing
each reply at 50 tokens/s, while a client keeps running a trivial cell on the kernel's main thread.

Measured in one kernel (started with jupyter_client, the way Jupyter runs it): the wall time of one reply
alone, then of N replies submitted together (median of a few rounds each), and the round-trip time of
``x = 1`` execute requests (request sent → execute_reply received) while the replies stream, against the
same cell on the idle kernel. What moves the tail and what does not (GC, switch interval, uvloop, a worker
process for provider I/O): ``python -m bench.responsive`` and bench/notes.md.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from .common import ROOT, Row, Sizes, isolated_env, median
from .server import ServerProcess, provider_options

WALL_BUDGET = 1.2
CELL_BUDGET_MS = 20.0

SETUP = """
import time, statistics
from bench.common import make_hub
from bench.server import prompt, expected_text
from pathlib import Path
_hub = make_hub(Path({tmp!r}), {{"openai": {options!r}}})
_model = "openai:gpt-4o-mini"
_hub.session("warm-up", model=_model).send(prompt(5))
_round = 0

def _start(n, tokens, rate):
    global _round, _handles, _t0
    _round += 1
    sessions = [_hub.session(f"r{{_round}}-{{i}}", model=_model) for i in range(n)]
    _t0 = time.time()
    _handles = [s.submit(prompt(tokens, rate)) for s in sessions]

def _done():
    return all(h.done() for h in _handles)

def _wall(tokens):
    replies = [h.result() for h in _handles]
    assert all(r.content == expected_text(tokens) for r in replies), "a reply lost text"
    return max(r.completed_at for r in replies) - _t0
"""


class Kernel:
    """A real ipykernel (this venv's Python) driven through jupyter_client."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=str(ROOT))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, expressions: dict[str, str] | None = None,
                timeout: float = 300) -> tuple[float, dict[str, Any]]:
        """(seconds from sending the request to its execute_reply, user expression values)."""
        began = time.perf_counter()
        msg_id = self.kc.execute(code, silent=False, store_history=False, user_expressions=expressions or {})
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        elapsed = time.perf_counter() - began
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(f"kernel cell failed: {content.get('ename')}: {content.get('evalue')}")
        values = {}
        for name, value in content.get("user_expressions", {}).items():
            if value.get("status") != "ok":
                raise RuntimeError(f"kernel expression {name} failed: {value.get('evalue')}")
            values[name] = json.loads(value["data"]["text/plain"].strip("'"))
        self._drain()
        return elapsed, values

    def _drain(self) -> None:
        while self.kc.iopub_channel.msg_ready():
            self.kc.get_iopub_msg(timeout=0)

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def probe(kernel: Kernel, seconds: float, until_done: bool = False, gap: float = 0.05) -> list[float]:
    """Round trips of a trivial cell, one every ``gap`` seconds, for ``seconds`` or until the replies end."""
    times: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        elapsed, _ = kernel.execute("x = 1")
        times.append(elapsed)
        if until_done and kernel.execute("", {"done": "__import__('json').dumps(_done())"})[1]["done"]:
            break
        time.sleep(gap)
    return times


def run(sizes: Sizes) -> list[Row]:
    n = sizes.pick(50, 5)
    tokens = sizes.pick(150, 10)
    rate = 50.0
    rounds = sizes.pick(3, 1)
    with ServerProcess("openai") as server, isolated_env() as tmp:
        env = {**os.environ, "OPENAI_API_KEY": server.key, "PYTHONPATH": str(ROOT)}
        kernel = Kernel(env)
        try:
            kernel.execute(SETUP.format(tmp=str(tmp), options=provider_options("openai", server.url)))
            idle = probe(kernel, sizes.pick(2.0, 0.3))
            alone, together, busy = [], [], []
            for _ in range(rounds):
                for count, walls in ((1, alone), (n, together)):
                    kernel.execute(f"_start({count}, {tokens}, {rate})")
                    if count == n:
                        busy += probe(kernel, 600, until_done=True)
                    _, values = kernel.execute("", {"wall": f"__import__('json').dumps(_wall({tokens}))"})
                    walls.append(values["wall"])
        finally:
            kernel.stop()
    wall_alone, wall_together = median(alone), median(together)
    ratio = wall_together / wall_alone
    cell, cell_idle = max(busy), median(idle)
    return [
        Row(f"3 Concurrency: {n} sessions at {rate:g} tokens/s, wall time", wall_together, wall_alone, "s",
            f"≤ {WALL_BUDGET} x one alone", ratio <= WALL_BUDGET,
            note=f"{tokens}-token replies in a real ipykernel; median of {rounds} rounds; baseline: one session "
                 "alone in the same kernel", baseline_label="one alone"),
        Row(f"3 Concurrency: trivial cell while {n} sessions stream (worst of {len(busy)})", cell * 1000,
            cell_idle * 1000, "ms", f"≤ {CELL_BUDGET_MS:g} ms", cell * 1000 <= CELL_BUDGET_MS,
            note=f"`x = 1` execute_request → execute_reply round trip; while streaming: median "
                 f"{median(busy) * 1000:.1f} ms, 90th percentile {pct(busy, 0.9) * 1000:.1f} ms, "
                 f"{sum(b > CELL_BUDGET_MS / 1000 for b in busy)} of {len(busy)} over budget; baseline: median on "
                 "the idle kernel", baseline_label="idle kernel", extra={"busy": busy, "idle": idle}),
    ]
