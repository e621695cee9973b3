"""Figure 5, the store: reopen a store holding many sessions, list them, load a long session, append a
message during a reply, and the memory of many restored idle sessions.

Ours goes through the public hub API (a fresh ``SessionHub`` on the store file per round); the baseline
is raw ``sqlite3`` doing the equivalent query on its own connection to the same file in the same round.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Row, Sizes, isolated_env, make_hub, median

LIST_BUDGET_MS = 50.0
LOAD_BUDGET_MS = 100.0
APPEND_BUDGET_MS = 1.0
SCOPE = "bench.ipynb"
USER_TEXT = "Which columns of df have missing values, and how would you fill them? " * 2
REPLY_TEXT = ("The columns `age` and `income` have missing values. For `age`, the median is robust; for "
              "`income`, consider a model-based imputation. ") * 6

LIST_SQL = ("SELECT s.id, s.name, s.scope, s.model, s.params, s.system_prompt, s.created_at, s.updated_at, "
            "s.fallback_reason, coalesce(t.n, 0), coalesce(t.tin, 0), coalesce(t.tout, 0), t.cost, "
            "max(s.updated_at, coalesce(t.last, 0)) FROM sessions s LEFT JOIN (SELECT session_id, count(*) AS n, "
            "sum(input_tokens) AS tin, sum(output_tokens) AS tout, sum(cost) AS cost, max(created_at) AS last "
            "FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE scope = ?1) GROUP BY session_id) t "
            "ON t.session_id = s.id WHERE s.scope = ?1 ORDER BY 14 DESC")  # the store's own query
LOAD_SQL = ("SELECT id, session_id, seq, role, content, model, status, input_tokens, output_tokens, cost, error, "
            "error_kind, created_at, completed_at FROM messages WHERE session_id=? ORDER BY seq")


def build(path: Path, sessions: int, per_session: int, big: int) -> None:
    """A store with ``sessions`` sessions of ``per_session`` messages plus one ("big") of ``big``."""
    from ai_sessions.model import Message, MessageStatus, Role, SessionRecord, Usage, new_id
    from ai_sessions.store import Store

    store = Store(path)
    try:
        t0 = time.time() - 86400
        for i in range(sessions + 1):
            name, count = ("big", big) if i == sessions else (f"s{i:04d}", per_session)
            record = store.create_session(SessionRecord(new_id(), name, SCOPE, "openai:gpt-4o-mini",
                                                        created_at=t0 + i, updated_at=t0 + i))
            messages = []
            for seq in range(1, count + 1):
                user = seq % 2 == 1
                messages.append(Message(new_id(), record.id, seq, Role.USER if user else Role.ASSISTANT,
                                        USER_TEXT if user else REPLY_TEXT, model=None if user else record.model,
                                        status=MessageStatus.COMPLETE, usage=None if user else Usage(40, 120),
                                        created_at=t0 + i + seq / 1000, completed_at=t0 + i + seq / 1000))
            store.copy_messages(messages)
    finally:
        store.close()


def raw_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def append_latencies(hub: Any, session_id: str, count: int) -> list[float]:
    """Seconds each awaited ``append_message`` takes as a reply sees it (awaited on the hub loop)."""
    from ai_sessions.model import Message, Role, new_id

    store = hub.store

    async def appends() -> list[float]:
        out = []
        for _ in range(count):
            message = Message(new_id(), session_id, 0, Role.USER, USER_TEXT)
            began = time.perf_counter()
            await asyncio.wrap_future(store.defer(store.append_message, message))
            out.append(time.perf_counter() - began)
        return out

    return hub.runtime.loop.run(appends())


def raw_append_latencies(path: Path, session_id: str, count: int) -> list[float]:
    """The same appends in raw sqlite3: one transaction each (next seq, insert, commit)."""
    conn = raw_connect(path)
    out = []
    try:
        for i in range(count):
            began = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE session_id=?",
                               (session_id,)).fetchone()[0]
            conn.execute("INSERT INTO messages (id, session_id, seq, role, content, status, created_at) "
                         "VALUES (?,?,?,?,?,?,?)", (f"raw-{i}-{time.time()}", session_id, seq, "user", USER_TEXT,
                                                     "complete", time.time()))
            conn.execute("COMMIT")
            out.append(time.perf_counter() - began)
    finally:
        conn.close()
    return out


MEMORY_CODE = """
import json, sys, gc, psutil
from pathlib import Path
proc = psutil.Process()
mode, path, names = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
if mode == "ours":
    from bench.common import make_hub
    hub = make_hub(path.parent, store_path=path)
    hub.sessions()
    gc.collect(); before = proc.memory_info().rss
    restored = [hub.get(name) for name in names]
    assert all(len(s.messages) > 0 for s in restored)
else:
    import sqlite3
    conn = sqlite3.connect(path)
    ids = [r[0] for r in conn.execute("SELECT id FROM sessions WHERE name != 'big'")]
    gc.collect(); before = proc.memory_info().rss
    restored = [conn.execute({load!r}, (i,)).fetchall() for i in ids]
gc.collect()
print(json.dumps(proc.memory_info().rss - before))
"""


def memory(mode: str, path: Path, names: list[str]) -> float:
    """RSS growth (bytes) of restoring ``names`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", MEMORY_CODE.format(load=LOAD_SQL), mode, str(path),
                           json.dumps(names)], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed: {done.stderr.strip()[-400:]}")
    return float(done.stdout.strip().splitlines()[-1])


def run(sizes: Sizes) -> list[Row]:
    from ai_sessions.hub import SessionHub
    from ai_sessions.keys import KeyStore
    from ai_sessions.settings import Settings

    sessions, per_session, big = sizes.pick((1000, 50, 10000), (20, 10, 200))
    rounds = sizes.pick(7, 2)
    appends = sizes.pick(300, 20)
    with isolated_env() as tmp:
        path = tmp / "data" / "sessions.db"
        path.parent.mkdir(parents=True)
        build(path, sessions, per_session, big)
        t: dict[str, list[float]] = {k: [] for k in ("open", "list", "load", "raw_open", "raw_list", "raw_load")}
        for _ in range(rounds):
            began = time.perf_counter()
            hub = SessionHub(settings=Settings(), store_path=path, keys=KeyStore(tmp / "keys.json", use_keyring=False),
                             scope=SCOPE)
            t["open"].append(time.perf_counter() - began)
            try:
                began = time.perf_counter()
                listed = hub.sessions()
                t["list"].append(time.perf_counter() - began)
                began = time.perf_counter()
                loaded = hub.get("big")
                t["load"].append(time.perf_counter() - began)
                assert len(listed) == sessions + 1 and len(loaded.messages) == big
            finally:
                hub.shutdown()
            began = time.perf_counter()
            conn = raw_connect(path)
            t["raw_open"].append(time.perf_counter() - began)
            try:
                began = time.perf_counter()
                rows = conn.execute(LIST_SQL, (SCOPE,)).fetchall()
                t["raw_list"].append(time.perf_counter() - began)
                sid = conn.execute("SELECT id FROM sessions WHERE name='big'").fetchone()[0]
                began = time.perf_counter()
                msgs = conn.execute(LOAD_SQL, (sid,)).fetchall()
                t["raw_load"].append(time.perf_counter() - began)
                assert len(rows) == sessions + 1 and len(msgs) == big
            finally:
                conn.close()
        hub = make_hub(tmp, store_path=path)
        try:
            target = hub.get("s0000").id
            ours_append = append_latencies(hub, target, appends)
        finally:
            hub.shutdown()
        raw_append = raw_append_latencies(path, target, appends)
        names = [f"s{i:04d}" for i in range(sessions)]
        mem_ours, mem_raw = memory("ours", path, names), memory("raw", path, names)
    ms = {k: median(v) * 1000 for k, v in t.items()}
    size = f"{sessions:,} sessions x {per_session} messages + one of {big:,}"
    return [
        Row("5 Store: reopen (new hub on the file)", ms["open"], ms["raw_open"], "ms", "report only", None,
            note=f"{size}; SessionHub(store_path=...) incl. migration check and crash recovery scan; baseline "
                 f"sqlite3.connect + pragmas; median of {rounds}", baseline_label="raw sqlite3"),
        Row(f"5 Store: list {sessions + 1:,} sessions", ms["list"], ms["raw_list"], "ms", f"≤ {LIST_BUDGET_MS:g} ms",
            ms["list"] <= LIST_BUDGET_MS, note=f"hub.sessions() (counts, usage, last activity) on a fresh hub; "
            f"baseline: the same SQL in raw sqlite3; median of {rounds}", baseline_label="raw sqlite3"),
        Row(f"5 Store: load one session of {big:,} messages", ms["load"], ms["raw_load"], "ms",
            f"≤ {LOAD_BUDGET_MS:g} ms", ms["load"] <= LOAD_BUDGET_MS,
            note=f"hub.get(name) on a fresh hub (messages, switches, Session); baseline: SELECT of its rows; "
                 f"median of {rounds}", baseline_label="raw sqlite3"),
        Row("5 Store: append a message during a reply", median(ours_append) * 1000, median(raw_append) * 1000,
            "ms", f"≤ {APPEND_BUDGET_MS:g} ms", median(ours_append) * 1000 <= APPEND_BUDGET_MS,
            note=f"awaited on the hub loop via the store thread (a reply awaits 2 appends + 1 final update); "
                 f"baseline: the same transaction in raw sqlite3; median of {appends}", baseline_label="raw sqlite3"),
        Row(f"5 Store: memory of {sessions:,} restored idle sessions", mem_ours / 2**20, mem_raw / 2**20, "MiB",
            "report only", None, note=f"RSS growth in a fresh process after hub.get() of each ({per_session} "
            "messages each); baseline: the same rows fetched as raw tuples", baseline_label="raw rows"),
    ]
