"""Figure 10, maps at scale (issue 14): a live map's wall time against a plain asyncio loop over the raw SDK,
its memory as the number of items grows, a batch job's bookkeeping (submit, poll, store the results) and
the cached-token accounting of a batch job.

- Live map: ``s.map("{x}", items, concurrency=32)`` over items that each ask the bench server (its own
  process, as for figure 1) for a short reply, against the leanest equivalent a user could write: the raw
  ``openai`` SDK's async client under an ``asyncio.Semaphore(32)``, results in order. Alternating, medians.
- Memory: a map over an in-process echo provider (no network, so 100,000 items take seconds), in a fresh
  process each: the peak growth of resident memory (sampled every 5 ms) per item, at 100,000 items against
  10,000 (flat: the same per item, whatever the count).
- Batch bookkeeping: ``submit_map(mode="batch")`` (requests built, estimated, stored, uploaded as JSONL,
  the job created), then one ``refresh()`` once the fake server (in this process) has finished the job (its
  status polled, its output file streamed, every result validated and stored), against the raw SDK doing
  the same calls (upload, create, retrieve, download and parse the lines) and storing nothing.
- Cached tokens: an Anthropic batch job whose items share a long system prompt and template prefix; the
  cache reads and writes recorded in the store against the fake server's own report, and the cost priced
  with them against the cost if nothing had been cached.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from .common import ROOT, Row, Sizes, isolated_env, make_hub, median
from .server import MODELS, ServerProcess, expected_text, prompt, provider_options

RATIO_BUDGET = 1.05
MEMORY_BUDGET = 1.2
BOOKKEEPING_BUDGET_MS = 0.5  # per item: submit + poll + store
CONCURRENCY = 32
TOKENS = 20


# -- live map -----------------------------------------------------------------------------------------------
async def _raw_map(client: Any, prompts: list[str]) -> list[str]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(text: str) -> str:
        async with gate:
            stream = await client.chat.completions.create(
                model=MODELS["openai"], messages=[{"role": "user", "content": text}], stream=True,
                stream_options={"include_usage": True}, max_completion_tokens=1024)
            parts = []
            async with stream:
                async for chunk in stream:
                    for choice in chunk.choices:
                        if choice.delta.content:
                            parts.append(choice.delta.content)
            return "".join(parts)

    return await asyncio.gather(*(one(p) for p in prompts))


def live_map(items: int, repeats: int) -> tuple[list[float], list[float]]:

    prompts = [prompt(TOKENS, text=f"Item {i}.") for i in range(items)]
    want = expected_text(TOKENS)
    ours_times, base_times = [], []
    with ServerProcess("openai") as server, isolated_env() as tmp:
        os.environ["OPENAI_API_KEY"] = server.key
        hub = make_hub(tmp, {"openai": provider_options("openai", server.url)})
        session = hub.session("map", model="openai:gpt-4o-mini")
        loop = asyncio.new_event_loop()
        client = loop.run_until_complete(_client(server))
        try:
            for i in range(repeats + 1):  # the first round warms both up
                for who in (("base", "ours") if i % 2 == 0 else ("ours", "base")):
                    began = time.perf_counter()
                    if who == "ours":
                        got = list(session.map("{x}", prompts, concurrency=CONCURRENCY, progress=False))
                    else:
                        got = loop.run_until_complete(_raw_map(client, prompts))
                    elapsed = time.perf_counter() - began
                    if got != [want] * items:
                        raise AssertionError(f"{who}: a reply lost text")
                    if i:
                        (ours_times if who == "ours" else base_times).append(elapsed)
        finally:
            loop.run_until_complete(client.close())
            loop.close()
            hub.shutdown()
    return ours_times, base_times


async def _client(server: ServerProcess) -> Any:
    import openai

    return openai.AsyncOpenAI(api_key=server.key, base_url=f"{server.url}/v1", max_retries=0)


# -- memory ----------------------------------------------------------------------------------------------------
MEMORY_SCRIPT = """
import gc, json, os, sys, threading
from pathlib import Path
from bench.common import isolated_env, make_hub
from ai_sessions.model import Usage
from ai_sessions.providers import register
from ai_sessions.providers.base import Availability, Finished, Provider, TextDelta

class Echo(Provider):
    kind = "echo"
    def availability(self):
        return Availability(True)
    async def stream(self, request):
        yield TextDelta("<" + request.turns[-1].content + ">")
        yield Finished(Usage(12, 3), "stop")

register("echo", Echo)
n = int(sys.argv[1])
with isolated_env() as tmp:
    hub = make_hub(tmp, {"echo": {"kind": "echo"}})
    s = hub.session("m", model="echo:x")
    s.map("{x}", ["warm-up"], progress=False)
    items = [f"input number {i:06d}" for i in range(n)]

    def rss():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    peak, stop = [0], threading.Event()

    def sample():  # resident memory every 5 ms: the peak while the map runs
        while not stop.wait(0.005):
            peak[0] = max(peak[0], rss())

    gc.collect()
    before = rss()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results = s.map("Label: {x}", items, concurrency=32, progress=False)
    stop.set()
    sampler.join()
    peak[0] = max(peak[0], rss())
    assert len(results) == n and results[-1] == f"<Label: input number {n - 1:06d}>"
    print(json.dumps({"kib": (peak[0] - before) / 1024}))
    hub.shutdown()
"""


def memory_growth(items: int) -> float:
    """KiB of resident memory growth (its peak) during a map of ``items``, in a fresh process."""
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(items)], cwd=ROOT, capture_output=True, text=True,
                          timeout=1800, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return float(json.loads(done.stdout.strip().splitlines()[-1])["kib"])


# -- batch bookkeeping and cached tokens -----------------------------------------------------------------------
def _fake(protocol: str) -> Any:
    sys.path.insert(0, str(ROOT))
    from tests.servers.base import ProviderServer

    if protocol == "openai":
        from tests.servers.openai_wire import OpenAIProtocol

        server = ProviderServer(OpenAIProtocol(), model_names=["gpt-4o-mini"])
    else:
        from tests.servers.anthropic_wire import AnthropicProtocol

        server = ProviderServer(AnthropicProtocol(), model_names=["claude-haiku-4-5"])
    server._httpd.socket.listen(512)
    return server


def bookkeeping(items: int) -> tuple[dict[str, float], float]:
    """Seconds of ours (submit, refresh) and of the raw SDK doing the same calls."""
    import openai

    server = _fake("openai")
    texts = [f"Review number {i}: fine." for i in range(items)]
    try:
        with isolated_env() as tmp:
            os.environ["OPENAI_API_KEY"] = server.key
            hub = make_hub(tmp, {"openai": {"kind": "openai", "base_url": f"{server.url}/v1", "timeout": 120}})
            session = hub.session("batch", model="openai:gpt-4o-mini")
            session.map("{x}", ["warm-up"], progress=False)
            began = time.perf_counter()
            job = session.submit_map("Label: {x}", texts, schema={"type": "object", "properties": {
                "label": {"enum": ["pos", "neg"]}}, "required": ["label"], "additionalProperties": False},
                mode="batch")
            submitted = time.perf_counter() - began
            server.batches.finish(job.provider_job_id)
            began = time.perf_counter()
            job.refresh()
            collected = time.perf_counter() - began
            assert job.state == "ended" and job.progress["completed"] == items
            hub.shutdown()
        client = openai.OpenAI(api_key=server.key, base_url=f"{server.url}/v1", max_retries=0)
        lines = "".join(json.dumps({"custom_id": f"i{i}", "method": "POST", "url": "/v1/chat/completions", "body": {
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Label: {t}"}]}}) + "\n"
            for i, t in enumerate(texts)).encode()
        began = time.perf_counter()
        upload = client.files.create(file=("b.jsonl", lines), purpose="batch")
        batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        base_submit = time.perf_counter() - began
        server.batches.finish(batch.id)
        began = time.perf_counter()
        done = client.batches.retrieve(batch.id)
        rows = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
        assert len(rows) == items
        base = base_submit + time.perf_counter() - began
        client.close()
    finally:
        server.stop()
    return {"submit": submitted, "collect": collected}, base


def cached_tokens(items: int) -> dict[str, Any]:
    """What the store recorded of a batch job's cache reads and writes, and what the server reported."""
    server = _fake("anthropic")
    try:
        with isolated_env() as tmp:
            os.environ["ANTHROPIC_API_KEY"] = server.key
            hub = make_hub(tmp, {"anthropic": {"kind": "anthropic", "base_url": server.url, "timeout": 120}})
            system = "You label reviews of a shop as pos or neg; reply with the label only. " * 40
            session = hub.session("cache", model="anthropic:claude-haiku-4-5", system_prompt=system)
            job = session.submit_map("Label the review below. Review: {x}", [f"review {i}" for i in range(items)],
                                     mode="batch")
            server.batches.finish(job.provider_job_id)
            results = job.refresh().results()
            served = [item.body["usage"] for item in server.batches.get(job.provider_job_id).items]
            catalogue = hub.runtime.catalogue
            from ai_sessions.model import Usage

            uncached = sum(catalogue.cost(session.model, Usage(i.usage.input_tokens, i.usage.output_tokens)) * 0.5
                           for i in results.items)
            out = {"read": job.usage.cache_read_tokens, "write": job.usage.cache_write_tokens,
                   "served_read": sum(u.get("cache_read_input_tokens", 0) for u in served),
                   "served_write": sum(u.get("cache_creation_input_tokens", 0) for u in served),
                   "cost": job.cost, "uncached": uncached}
            hub.shutdown()
    finally:
        server.stop()
    return out


def run(sizes: Sizes) -> list[Row]:
    rows: list[Row] = []
    items, repeats = sizes.pick(1000, 60), sizes.pick(5, 1)
    ours, base = live_map(items, repeats)
    ratio = median(ours) / median(base)
    rows.append(Row(f"10 Live map, {items:,} items at concurrency {CONCURRENCY}: wall time", median(ours),
                    median(base), "s", f"ratio ≤ {RATIO_BUDGET}", ratio <= RATIO_BUDGET,
                    note=f"median of {repeats}; session.map (retries, order, job rows in the store) vs a plain "
                         f"asyncio loop over the raw openai SDK; {TOKENS}-token replies from the bench server",
                    baseline_label="raw openai SDK + asyncio"))
    big, small = sizes.pick(100_000, 1_000), sizes.pick(10_000, 100)
    big_kib, small_kib = memory_growth(big), memory_growth(small)
    per_big, per_small = big_kib * 1024 / big, small_kib * 1024 / small
    rows.append(Row(f"10 Live map memory per item, {big:,} items", per_big, per_small, "bytes",
                    f"≤ {MEMORY_BUDGET} x per item at {small:,}", per_big <= MEMORY_BUDGET * per_small,
                    note=f"peak resident memory growth during the map / items, fresh process each "
                         f"({big_kib / 1024:.0f} MiB for {big:,}); results streamed to the store as they finish, "
                         "one worker per concurrency slot", baseline_label=f"per item at {small:,}"))
    count = sizes.pick(10_000, 200)
    ours_parts, base_time = bookkeeping(count)
    total = ours_parts["submit"] + ours_parts["collect"]
    rows.append(Row(f"10 Batch job bookkeeping, {count:,} items: submit + poll + store results", total, base_time, "s",
                    f"≤ {BOOKKEEPING_BUDGET_MS} ms per item", total / count * 1000 <= BOOKKEEPING_BUDGET_MS,
                    note=f"submit {ours_parts['submit']:.2f} s (requests, estimate, {count:,} job rows, JSONL upload), "
                         f"refresh {ours_parts['collect']:.2f} s (poll, stream the output file, validate, store); "
                         "baseline: the raw SDK's calls, storing nothing", baseline_label="raw openai SDK"))
    cache_items = sizes.pick(1000, 20)
    c = cached_tokens(cache_items)
    exact = (c["read"], c["write"]) == (c["served_read"], c["served_write"])
    rows.append(Row(f"10 Cached tokens, Anthropic batch of {cache_items:,}: recorded vs the server's report",
                    float(c["read"] + c["write"]), float(c["served_read"] + c["served_write"]), "tokens", "equal",
                    exact, note=f"{c['write']:,} written once, {c['read']:,} read; every item's usage stored as "
                                "the provider reported it", baseline_label="server's usage"))
    rows.append(Row(f"10 Cached tokens, Anthropic batch of {cache_items:,}: cost", c["cost"] * 1000,
                    c["uncached"] * 1000, "m$", "report only", None,
                    note="genai-prices with cache reads and writes, at the Batch API's half price, vs the same "
                         "tokens priced as if nothing had been cached", baseline_label="nothing cached"))
    return rows
