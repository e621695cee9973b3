"""Real processes: restart on the same store, kill -9 mid-reply, two kernels writing one store.

Replies come from the fake OpenAI server in this process (``openai_server`` points the child's
OPENAI_BASE_URL and key at it), so these run on every install: the ``trickle`` fault is an endless slow
reply to kill in the middle, ``hold`` a reply that never ends."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ai_sessions.model import MessageStatus
from ai_sessions.store import Store
from tests.servers.base import CHUNK_CHARS
from tests.servers.fixtures import openai_server  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, env_dir: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "AI_SESSIONS_DATA_DIR": str(env_dir / "data"),
           "AI_SESSIONS_CONFIG_DIR": str(env_dir / "config"), "AI_SESSIONS_NO_KEYRING": "1",
           "JPY_SESSION_NAME": "nb.ipynb", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=env_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def test_sessions_survive_a_kernel_restart(tmp_path, openai_server):  # noqa: F811
    finish(run_python("""
        import ai_sessions
        s = ai_sessions.hub().session("analysis", model="openai:gpt-4o-mini", max_tokens=8)
        s.send("Say hi")
        s.switch_model("anthropic:claude-haiku-4-5", reason="logged (replies fall back: no key)")
        print(s.id)
    """, tmp_path))
    out = finish(run_python("""
        import ai_sessions
        s = ai_sessions.hub().session("analysis")
        print(s.id, len(s.messages), s.messages[1].status.value, len(s.model_switches), s.params)
    """, tmp_path))
    _sid, count, status, switches, params = out.split(maxsplit=4)
    assert (count, status, switches) == ("2", "complete", "1")
    assert "max_tokens" in params


def test_kill_9_mid_reply_keeps_partial_text_as_interrupted(tmp_path, openai_server):  # noqa: F811
    openai_server.fail("trickle")
    proc = run_python("""
        import ai_sessions
        s = ai_sessions.hub().session("long", model="openai:gpt-4o-mini")
        s.send("Write a very long essay about the history of statistics, with many sections.")
    """, tmp_path)
    db = tmp_path / "data" / "sessions.db"
    deadline = time.monotonic() + 90
    partial = ""
    while time.monotonic() < deadline and not partial:  # wait for the first checkpoint to land
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as conn:
                    row = conn.execute("SELECT content FROM messages WHERE role='assistant' "
                                       "AND status='streaming'").fetchone()
                partial = row[0] if row else ""
            except sqlite3.OperationalError:
                pass
        if not partial:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
    assert partial, "no checkpoint was written while the reply streamed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    store = Store(db)
    try:
        [summary] = store.list_sessions()
        reply = store.load_messages(summary.record.id)[-1]
    finally:
        store.close()
    assert reply.status is MessageStatus.INTERRUPTED
    assert reply.content.startswith(partial)


def test_two_processes_write_one_store_without_loss(tmp_path):
    code = """
        import sys
        from ai_sessions.providers.base import ProviderConfig
        from ai_sessions.settings import Settings
        from ai_sessions.hub import SessionHub
        import tests.scripted
        hub = SessionHub(settings=Settings(providers={"scripted": ProviderConfig("scripted", "scripted")}))
        tag = sys.argv[1] if len(sys.argv) > 1 else "x"
        shared = hub.session("shared", model="scripted:m")
        for i in range(40):
            hub.session(f"{tag}-{i}", model="scripted:m").send(f"{tag} {i}")
            shared.send(f"{tag} shared {i}")
        hub.shutdown()
        print("ok")
    """
    env = {**os.environ, "AI_SESSIONS_DATA_DIR": str(tmp_path / "data"),
           "AI_SESSIONS_CONFIG_DIR": str(tmp_path / "config"), "AI_SESSIONS_NO_KEYRING": "1",
           "JPY_SESSION_NAME": "nb.ipynb", "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), tag], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", err
        assert "locked" not in err
    store = Store(tmp_path / "data" / "sessions.db")
    try:
        rows = {s.record.name: s for s in store.list_sessions("nb.ipynb")}
        assert len(rows) == 81
        assert all(rows[f"{t}-{i}"].message_count == 2 for t in "ab" for i in range(40))
        shared = store.load_messages(rows["shared"].record.id)
        assert len(shared) == 160
        assert [m.seq for m in shared] == list(range(1, 161))
        assert {m.content for m in shared if m.role.value == "user"} == {
            f"{t} shared {i}" for t in "ab" for i in range(40)}
    finally:
        store.close()


def test_exit_during_a_reply_stores_it_as_stopped_cleanly(tmp_path, openai_server):  # noqa: F811
    openai_server.fail("hold")
    proc = run_python("""
        import threading, ai_sessions
        hub = ai_sessions.hub()
        first, seen = threading.Event(), []
        def on_delta(e):  # exit once all the text before the hold arrived (the first delta may be a part)
            seen.append(e.payload["text"])
            if len("".join(seen)) >= WANT:
                first.set()
        hub.on("llm.response.delta", on_delta)
        hub.session("bye", model="openai:gpt-4o-mini").submit("Write a long essay about sampling.")
        assert first.wait(60)
    """.replace("WANT", str(2 * CHUNK_CHARS)), tmp_path)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Exception ignored" not in err and "Traceback" not in err, err
    store = Store(tmp_path / "data" / "sessions.db")
    try:
        [summary] = store.list_sessions()
        reply = store.load_messages(summary.record.id)[-1]
    finally:
        store.close()
    assert reply.status is MessageStatus.STOPPED
    assert reply.content == openai_server.streams()[0].reply[:2 * CHUNK_CHARS]  # what came before the hold


def _open_at_barrier(barrier, paths: list[str]) -> None:
    for path in paths:
        barrier.wait(timeout=60)
        try:
            Store(Path(path)).close()
        except BaseException:
            barrier.abort()  # the others stop at once instead of waiting out the timeout
            raise


def test_processes_opening_one_new_store_at_once_all_succeed(tmp_path):
    """Two kernels started together race to switch a new file to WAL; SQLite answers the loser BUSY at
    once (no busy handler), which must be waited out, not reported as an unreadable database."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    paths = [str(tmp_path / f"round{i}" / "sessions.db") for i in range(40)]
    workers = [ctx.Process(target=_open_at_barrier, args=(barrier, paths), daemon=True) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.join(timeout=120)
        assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    finally:
        barrier.abort()
        for worker in workers:
            worker.kill()
            worker.join()
    for path in paths:
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] >= 1
