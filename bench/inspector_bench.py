"""Figure 8, inspector and model="auto": ``s.timeline()`` on a session of 10,000 messages (its ~25,000 stored
events, as replies leave them), against the obvious way (raw ``sqlite3``, one ``json.loads`` per event, a
DataFrame from the dicts); and what model="auto" adds to a reply: the choice itself against the fixed-model
lookup it replaces, and whole replies from the bench's OpenAI server, auto and fixed alternately."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any

from .common import Row, Sizes, isolated_env, make_hub, median
from .server import MODELS, ServerProcess, prompt, provider_options

TIMELINE_BUDGET_MS = 100.0
CHOICE_BUDGET_MS = 1.0
MODEL = "openai:gpt-4o-mini"


def fill(hub: Any, name: str, messages: int) -> Any:
    """A session of ``messages`` messages with the events its replies would have stored: per turn the user
    message, the request start, the reply's end and the assistant message; a retry every 50 replies and a
    model switch every 100."""
    from ai_sessions.model import Event, EventKind, Message, ModelSwitch, Role, Usage, new_id

    session = hub.session(name, model=MODEL)
    store = hub.store
    t = time.time() - 86_400
    rows: list[Message] = []
    events: list[Event] = []
    for seq in range(1, messages, 2):
        user = Message(new_id(), session.id, seq, Role.USER, "Which columns of df have missing values? " * 3,
                       created_at=t, completed_at=t)
        reply = Message(new_id(), session.id, seq + 1, Role.ASSISTANT, "The columns `age` and `income`. " * 12,
                        model=MODEL, usage=Usage(420, 130), cost=0.0001, created_at=t, completed_at=t + 1.2)
        rows += [user, reply]
        turn = seq // 2
        if turn % 100 == 99:
            switch = ModelSwitch(session.id, MODEL, MODEL, seq - 1, "bench", t - 0.5)
            events.append(Event(EventKind.MODEL_SWITCHED, session.id, switch.to_dict(), t - 0.5))
        events.append(Event(EventKind.MESSAGE_USER, session.id, user.to_dict(), t))
        events.append(Event(EventKind.REQUEST_STARTED, session.id, {"message_id": reply.id, "model": MODEL,
                                                                    "seq": reply.seq}, t + 0.01))
        if turn % 50 == 49:
            events.append(Event(EventKind.REQUEST_RETRY, session.id, {
                "message_id": reply.id, "attempt": 2, "max_attempts": 4, "wait_s": 0.4, "until": t + 0.5,
                "kind": "rate_limited", "status_code": 429, "reason": "rate limited"}, t + 0.1))
        timing = {"elapsed": 1.2, "first_token_s": 0.35, "attempts": 1, "retry_wait_s": 0.0, "rounds": 1,
                  "finish_reason": "stop"}
        events.append(Event(EventKind.RESPONSE_COMPLETED, session.id, {**reply.to_dict(), **timing}, t + 1.2))
        events.append(Event(EventKind.MESSAGE_ASSISTANT, session.id, reply.to_dict(), t + 1.2))
        t += 30
    store.copy_messages(rows)
    store.defer(lambda: [store.add_event(e) for e in events]).result()
    return session


def obvious_timeline(path: Any, session_id: str) -> Any:
    """The way one would write it without the kit: every event's JSON parsed, a DataFrame of the dicts."""
    import pandas as pd

    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT kind, created_at, payload FROM events WHERE session_id = ? ORDER BY id",
                            (session_id,)).fetchall()
    finally:
        conn.close()
    return pd.DataFrame([{"kind": kind, "time": at, **json.loads(payload)} for kind, at, payload in rows])


def timeline_rows(sizes: Sizes) -> list[Row]:
    messages = sizes.pick(10_000, 200)
    runs = sizes.pick(9, 3)
    with isolated_env() as tmp:
        hub = make_hub(tmp, default_model=MODEL)
        os.environ["OPENAI_API_KEY"] = "sk-bench-not-used"
        try:
            session = fill(hub, "long", messages)
            session.timeline()  # warm: pandas imported, pages cached (both ways get the same warm-up)
            obvious_timeline(hub.store.path, session.id)
            ours, base = [], []
            for _ in range(runs):
                began = time.perf_counter()
                frame = session.timeline()
                ours.append(time.perf_counter() - began)
                began = time.perf_counter()
                obvious_timeline(hub.store.path, session.id)
                base.append(time.perf_counter() - began)
            rows_count = len(frame)
        finally:
            hub.shutdown()
    ms, base_ms = median(ours) * 1000, median(base) * 1000
    return [Row(f"8 s.timeline(), session of {messages:,} messages", ms, base_ms, "ms",
                f"≤ {TIMELINE_BUDGET_MS:g} ms", ms <= TIMELINE_BUDGET_MS,
                note=f"median of {runs}; {rows_count:,} timeline rows from the store's events (message.user and "
                     "message.assistant left out), typed columns; baseline: raw sqlite3, json.loads per event, "
                     "DataFrame of dicts",
                baseline_label="sqlite3 + json.loads + DataFrame")]


CANDIDATES = (MODEL, "anthropic:claude-haiku-4-5", "local:smollm2")


def auto_hub(tmp: Any, url: str, store: str) -> Any:
    """A hub whose openai provider is the bench server, with three [auto] candidates."""
    from ai_sessions.hub import SessionHub
    from ai_sessions.keys import KeyStore
    from ai_sessions.providers.base import ProviderConfig
    from ai_sessions.settings import AutoSettings, Defaults, Settings

    options = provider_options("openai", url)
    settings = Settings(defaults=Defaults(model=MODEL), auto=AutoSettings(CANDIDATES),
                        providers={"openai": ProviderConfig("openai", options.pop("kind"), options)})
    return SessionHub(settings=settings, store_path=tmp / "data" / store,
                      keys=KeyStore(tmp / "config" / "keys.json", use_keyring=False), scope="bench.ipynb")


def choice_rows(sizes: Sizes) -> list[Row]:
    """The choice alone, on the hub loop, against the fixed-model lookup it replaces; then whole replies."""
    from ai_sessions.auto import AutoChooser
    from ai_sessions.conversation import Conversation
    from ai_sessions.parts import TextPart
    from ai_sessions.providers.base import ChatRequest
    from ai_sessions.reply import Reply, TurnSpec

    count = sizes.pick(2000, 50)
    replies = sizes.pick(150, 6)
    rows: list[Row] = []
    with ServerProcess("openai") as server, isolated_env() as tmp:
        os.environ["OPENAI_API_KEY"] = server.key
        os.environ["ANTHROPIC_API_KEY"] = "sk-bench-not-used"
        hub = auto_hub(tmp, server.url, "choice.db")
        settings = hub.settings
        try:
            history = hub.session("history", model=MODEL)
            for i in range(10):  # a conversation of 20 messages to measure the history against
                history.send(prompt(20, text=f"question {i}"))
            conversation = Conversation(history.id, list(history.messages))
            spec = TurnSpec((TextPart("Which columns have missing values?"),), lambda m, t: ChatRequest(m, t),
                            "auto")
            reply = Reply(hub.runtime, conversation, "history", spec)
            catalogue = hub.runtime.catalogue

            async def measure() -> tuple[list[float], list[float]]:
                chooser = AutoChooser(settings, catalogue, MODEL)
                await chooser.choose(reply)  # warm (the price table is imported once, off the loop)
                auto, fixed = [], []
                for _ in range(count):
                    began = time.perf_counter()
                    await AutoChooser(settings, catalogue, MODEL).choose(reply)
                    auto.append(time.perf_counter() - began)
                    began = time.perf_counter()
                    catalogue.resolve(MODEL)
                    fixed.append(time.perf_counter() - began)
                return auto, fixed

            auto, fixed = hub.runtime.loop.run(measure())
            ours, base = median(auto) * 1000, median(fixed) * 1000
            rows.append(Row("8 model=auto: the choice of a reply", ours, base, "ms", f"≤ {CHOICE_BUDGET_MS:g} ms",
                            ours <= CHOICE_BUDGET_MS, baseline_label="fixed model's resolve",
                            note=f"median of {count}; 3 candidates, a 20-message history, capability and context "
                                 "checks; baseline: the fallback lookup a fixed-model reply does instead"))
        finally:
            hub.shutdown()
        # whole replies: an auto session and a fixed one on the same server, alternately
        hub = auto_hub(tmp, server.url, "replies.db")
        try:
            fixed_s, auto_s = hub.session("fixed", model=MODEL), hub.session("auto", model="auto")
            for s in (fixed_s, auto_s):
                s.send(prompt(20))  # warm: SDK client, connection, first switch of the auto session
            times: dict[str, list[float]] = {"fixed": [], "auto": []}
            for i in range(replies):
                order = (("fixed", fixed_s), ("auto", auto_s)) if i % 2 else (("auto", auto_s), ("fixed", fixed_s))
                for name, s in order:
                    began = time.perf_counter()
                    message = s.send(prompt(20, text=f"q{i}"))
                    times[name].append(time.perf_counter() - began)
                    assert message.model == f"openai:{MODELS['openai']}"
            auto_ms, fixed_ms = median(times["auto"]) * 1000, median(times["fixed"]) * 1000
            rows.append(Row("8 model=auto: a whole reply", auto_ms, fixed_ms, "ms",
                            f"added ≤ {CHOICE_BUDGET_MS:g} ms", auto_ms - fixed_ms <= CHOICE_BUDGET_MS,
                            baseline_label="the same reply, fixed model",
                            note=f"medians over {replies} replies of 20 tokens each, an auto and a fixed-model "
                                 "session alternately, from the bench's OpenAI server in another process"))
        finally:
            hub.shutdown()
    return rows


def run(sizes: Sizes) -> list[Row]:
    return [*timeline_rows(sizes), *choice_rows(sizes)]
