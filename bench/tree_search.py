"""Figure 11, search and branches (issue 13): ``hub.search`` over 100,000 stored messages, and switching the
branch of a 1,000-message session with ``session.checkout``.

Search: a store of 100 sessions x 1,000 messages whose text is drawn from a Zipf-distributed vocabulary
(a few words in most messages, most words rare), queried with words of every frequency, two-word queries
and a prefix; ours is the public ``hub.search`` (ranked, scoped, with snippets), the baseline FTS5's own
ranked query on the same index (all matches ranked, no scope, no snippet). Branches: a session of 1,000
messages with a second branch from message 3; ours alternates ``s.checkout`` between the two (the path
reloaded into the session), the baseline reads the same path with raw sqlite3.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from .common import Row, Sizes, isolated_env, make_hub, median

SEARCH_BUDGET_MS = 50.0
CHECKOUT_BUDGET_MS = 20.0
SCOPE = "bench.ipynb"
DOMAIN = ("pandas", "dataframe", "column", "missing", "values", "median", "groupby", "plot", "regression",
          "model", "train", "test", "accuracy", "feature", "index", "merge", "null", "mean", "variance", "cluster")


def vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "ve", "zo", "pi", "so", "da", "fe", "gu", "ho", "ji", "ba"]
    words = list(DOMAIN)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in words:
            words.append(word)
    return words


def build(path: Path, sessions: int, per_session: int) -> list[str]:
    """The store; returns the vocabulary by decreasing frequency."""
    from ai_sessions.model import Message, MessageStatus, Role, SessionRecord, new_id
    from ai_sessions.store import Store

    rng = random.Random(13)
    words = vocabulary(rng, 5000)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf: the k-th word 1/k as often
    store = Store(path)
    try:
        t0 = time.time() - 86400
        for i in range(sessions):
            record = store.create_session(SessionRecord(new_id(), f"s{i:03d}", SCOPE, "openai:gpt-4o-mini"))
            messages = []
            for seq in range(1, per_session + 1):
                text = " ".join(rng.choices(words, weights, k=rng.randint(30, 90)))
                messages.append(Message(new_id(), record.id, seq, Role.USER if seq % 2 else Role.ASSISTANT, text,
                                        status=MessageStatus.COMPLETE, created_at=t0 + i + seq / 1e4))
            store.copy_messages(messages)
    finally:
        store.close()
    return words


def queries(words: list[str]) -> list[str]:
    return [words[0], words[5], words[50], words[500], words[3000], f"{words[2]} {words[40]}",
            f"{words[10]} {words[700]}", words[120][:3]]


def run(sizes: Sizes) -> list[Row]:
    sessions, per_session = sizes.pick((100, 1000), (5, 40))
    rounds = sizes.pick(9, 2)
    branch_length = sizes.pick(1000, 60)
    switches = sizes.pick(50, 4)
    with isolated_env() as tmp:
        path = tmp / "data" / "sessions.db"
        path.parent.mkdir(parents=True)
        words = build(path, sessions, per_session)
        hub = make_hub(tmp, store_path=path)
        conn = sqlite3.connect(path)
        try:
            ours, raw, hits = _search(hub, conn, queries(words), rounds)
            checkout, raw_checkout = _checkout(hub, conn, branch_length, switches)
        finally:
            conn.close()
            hub.shutdown()
    total = sessions * per_session
    worst = max(ours.values())
    detail = ", ".join(f"{q!r} {ms:.1f} ms/{hits[q]} hits" for q, ms in ours.items())
    return [
        Row(f"11 search {total:,} messages (worst query)", worst, max(raw.values()), "ms",
            f"≤ {SEARCH_BUDGET_MS:g} ms", worst <= SEARCH_BUDGET_MS,
            note=f"hub.search(q) (scope, BM25 rank, snippets, 50 hits), median of {rounds} per query; per query: "
                 f"{detail}; baseline: FTS5's own ranked query over all matches", baseline_label="raw FTS5 rank"),
        Row(f"11 switch branch ({branch_length:,}-message session)", checkout, raw_checkout, "ms",
            f"≤ {CHECKOUT_BUDGET_MS:g} ms", checkout <= CHECKOUT_BUDGET_MS,
            note=f"s.checkout(branch) from the main thread, alternating two branches, median of {switches}: the "
                 "head moved and the path reloaded into the session; baseline: the same path read with raw sqlite3",
            baseline_label="raw path query"),
    ]


def _search(hub: Any, conn: sqlite3.Connection, asked: list[str], rounds: int
            ) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    from ai_sessions.search import fts_query

    ours: dict[str, float] = {}
    raw: dict[str, float] = {}
    hits: dict[str, int] = {}
    hub.search(asked[0])  # warm the page cache
    for query in asked:
        times, raw_times = [], []
        for _ in range(rounds):
            began = time.perf_counter()
            found = hub.search(query)
            times.append(time.perf_counter() - began)
            began = time.perf_counter()
            conn.execute("SELECT rowid FROM message_search WHERE message_search MATCH ? ORDER BY rank LIMIT 50",
                         (fts_query(query),)).fetchall()
            raw_times.append(time.perf_counter() - began)
        ours[query], raw[query], hits[query] = median(times) * 1000, median(raw_times) * 1000, len(found)
    return ours, raw, hits


def _checkout(hub: Any, conn: sqlite3.Connection, length: int, switches: int) -> tuple[float, float]:
    from ai_sessions.model import Message, MessageStatus, Role, new_id
    from ai_sessions.tree import branch_rows

    s = hub.session("long")
    messages = [Message(new_id(), s.id, seq, Role.USER if seq % 2 else Role.ASSISTANT, f"message {seq} " * 20,
                        status=MessageStatus.COMPLETE) for seq in range(1, length + 1)]
    store = hub.store
    store.copy_messages(messages)
    side = [Message(new_id(), s.id, length + i, Role.USER if i % 2 else Role.ASSISTANT, f"side {i}",
                    status=MessageStatus.COMPLETE) for i in range(1, 5)]
    store.append_turn(side[0], side[1], messages[1].id)  # a branch from message 3 on
    hub.close("long")
    s = hub.session("long")
    ends = [messages[-1].id, s.branch]
    times, raw_times = [], []
    for i in range(switches + 2):
        target = ends[i % 2]
        began = time.perf_counter()
        s.checkout(target)
        if i >= 2:
            times.append(time.perf_counter() - began)
        assert s.branch == target
        began = time.perf_counter()
        rows = branch_rows(conn.execute("SELECT id, content, parent_id FROM messages WHERE session_id=? ORDER BY seq",
                                        (s.id,)).fetchall(), target)
        raw_times.append(time.perf_counter() - began)
        assert len(rows) == len(s.messages)
    assert len(s.branches) == 2
    return median(times) * 1000, median(raw_times) * 1000
