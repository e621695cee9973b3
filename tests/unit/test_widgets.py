"""Widgets, kernel side: binding, batched streaming, views in step, actions, panel, tab, no secrets.

No browser here: widgets run without a frontend (ipywidgets' dummy comm) and we record what they
would send. Trait changes and sends happen on the hub thread; tests wait on them through a condition.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ai_sessions import EventKind
from ai_sessions.model import Event
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Defaults, Settings
from tests.scripted import SCRIPTS, Script

pytest.importorskip("anywidget")
widgets = pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first (cd js && npm run build)")
ChatWidget, HubPanel, open_tab = widgets.ChatWidget, widgets.HubPanel, widgets.open_tab

SCRIPTED = {"scripted": ProviderConfig("scripted", "scripted")}
TIMEOUT = 10


class Recorder:
    """Records a widget's custom messages and wakes waiters on every send or trait change."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self.sent: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        original = widget.send

        def send(content: dict[str, Any], buffers: Any = None) -> None:
            with self._cond:
                self.sent.append(content)
                self._cond.notify_all()
            original(content, buffers)

        widget.send = send
        widget.observe(self._changed)

    def _changed(self, _change: Any) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool], what: str = "condition") -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, TIMEOUT), f"timed out waiting for {what}"

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.sent if m.get("type") == kind]


def view_msg(widget: Any, content: dict[str, Any]) -> None:
    """What a click in the browser does: a custom message handled on the kernel's main thread."""
    widget._on_view_msg(widget, content, [])


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    return make_hub(settings=Settings(defaults=Defaults(model="scripted:m1"), providers=SCRIPTED))


def last_status(widget: Any) -> str | None:
    return widget.messages[-1]["status"] if widget.messages else None


def test_binds_to_a_session_and_shows_its_history(shub):
    s = shub.session("analysis")
    s.send("hi")
    w = ChatWidget(session=s)
    assert repr(w) == "ChatWidget(session='analysis')"
    assert w.session_id == s.id and w.session_name == "analysis"
    assert [(m["role"], m["content"], m["status"]) for m in w.messages] == [
        ("user", "hi", "complete"), ("assistant", "Hello world", "complete")]
    assert w.messages[1]["model"] == "scripted:m1"
    assert w.model == "scripted:m1"
    assert any(m["provider"] == "scripted" and m["available"] for m in w.models)
    assert w.progress == {} and w.session_state == "open"
    w.close()


def test_a_name_gets_or_creates_the_session(shub):
    w = ChatWidget(session="notes", hub=shub)
    assert shub.get("notes").id == w.session_id
    w.close()


def test_deltas_reach_the_browser_in_few_batched_messages(shub):
    gate = asyncio.Event()
    started = threading.Event()
    SCRIPTS["m1"] = Script(chunks=[f"t{i} " for i in range(400)], gate=gate, started=started)
    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    handle = s.submit("go")
    rec.wait(lambda: sum(len(m["text"]) for m in rec.of("delta")) == len("".join(f"t{i} " for i in range(400))),
             "all text flushed")
    assert w.progress["state"] == "streaming"
    assert w.progress["first_token_at"] >= w.progress["started_at"]
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    reply = handle.result(TIMEOUT)
    rec.wait(lambda: len(w.messages) == 2 and last_status(w) == "complete", "final trait")
    deltas = rec.of("delta")
    assert len(deltas) <= 10, f"{len(deltas)} messages for 400 deltas: not batched"
    offset = 0
    for i, d in enumerate(deltas):
        assert d["offset"] == offset and d["message_id"] == reply.id
        offset += len(d["text"])
        if i:
            assert d["seq"] > deltas[i - 1]["seq"]
    assert "".join(d["text"] for d in deltas) == reply.content
    assert deltas[-1]["tokens"] == 400
    assert w.messages[-1]["content"] == reply.content
    assert w.progress == {}
    w.close()


def test_each_replys_first_text_is_sent_at_once_even_right_after_another_reply(shub):
    # the flush throttle must not hold a new reply's first text because the previous reply flushed
    # moments ago: the loop can be busy parsing the rest of the burst for a long time
    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    firsts: list[dict[str, Any]] = []

    def after_piece(i: int) -> None:
        if i == 0:
            firsts.append(rec.of("delta")[-1])

    SCRIPTS["m1"] = Script(chunks=["first ", "more ", "text"], burst=True, after_piece=after_piece)
    replies = [s.send(f"go {i}") for i in range(3)]
    assert [(f["message_id"], f["offset"], f["text"]) for f in firsts] == [(r.id, 0, "first ") for r in replies]
    w.close()


def test_a_view_that_asks_gets_the_whole_reply_so_far(shub):
    gate = asyncio.Event()
    SCRIPTS["m1"] = Script(chunks=["abc", "def"], gate=gate)
    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    handle = s.submit("go")
    rec.wait(lambda: any(d["offset"] + len(d["text"]) == 6 for d in rec.of("delta")), "first flush")
    view_msg(w, {"type": "hello"})
    rec.wait(lambda: rec.of("delta")[-1]["offset"] == 0 and len(rec.of("delta")) >= 2, "resend")
    assert rec.of("delta")[-1]["text"] == "abcdef"
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    handle.result(TIMEOUT)
    w.close()


def test_a_widget_opened_mid_reply_catches_up(shub):
    gate = asyncio.Event()
    started = threading.Event()
    SCRIPTS["m1"] = Script(chunks=["early ", "text"], gate=gate, started=started)
    s = shub.session("a")
    first = ChatWidget(session=s)  # the hub's feed follows replies from here on
    handle = s.submit("go")
    Recorder(first).wait(lambda: first.progress.get("state") == "streaming", "streaming")
    late = ChatWidget(session=s)
    rec = Recorder(late)
    assert late.progress.get("state") == "streaming"
    view_msg(late, {"type": "hello"})  # what a newly rendered view says first: it gets the text so far
    def caught_up() -> bool:  # the late view's deltas rebuild the whole text from offset 0
        deltas = rec.of("delta")
        return bool(deltas) and deltas[0]["offset"] == 0 and "".join(d["text"] for d in deltas) == "early text"

    rec.wait(caught_up, "catch-up")
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    handle.result(TIMEOUT)
    first.close()
    late.close()


def test_views_stay_in_step_whoever_sends(shub):
    s = shub.session("a")
    one, two = ChatWidget(session=s), ChatWidget(session=s)
    rec_one, rec_two = Recorder(one), Recorder(two)
    view_msg(two, {"type": "send", "text": "from two", "client_id": "c1"})
    assert rec_two.of("ack") == [{"type": "ack", "client_id": "c1", "error": None}]
    rec_one.wait(lambda: len(one.messages) == 2 and last_status(one) == "complete", "reply in widget one")
    rec_two.wait(lambda: len(two.messages) == 2 and last_status(two) == "complete", "reply in widget two")
    assert one.messages == two.messages
    assert [m["content"] for m in one.messages] == ["from two", "Hello world"]
    s.send("from python")
    rec_two.wait(lambda: len(two.messages) == 4 and last_status(two) == "complete", "python send shown")
    one.close()
    two.close()


def test_stop_marks_the_reply_stopped_and_keeps_its_text(shub):
    gate = asyncio.Event()
    started = threading.Event()
    SCRIPTS["m1"] = Script(chunks=["partial"], gate=gate, started=started)
    w = ChatWidget(session=shub.session("a"))
    rec = Recorder(w)
    view_msg(w, {"type": "send", "text": "long please", "client_id": "c1"})
    rec.wait(lambda: bool(rec.of("delta")), "first text")
    view_msg(w, {"type": "stop", "client_id": "c2"})
    rec.wait(lambda: last_status(w) == "stopped", "stopped")
    assert w.messages[-1]["content"] == "partial"
    assert w.progress == {}
    w.close()


def test_busy_session_reports_the_error_to_the_view(shub):
    gate = asyncio.Event()
    SCRIPTS["m1"] = Script(chunks=["x"], gate=gate)
    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    handle = s.submit("first")
    rec.wait(lambda: w.progress.get("state") == "streaming", "streaming")
    view_msg(w, {"type": "send", "text": "second", "client_id": "c9"})
    rec.wait(lambda: any(a["client_id"] == "c9" and a["error"] for a in rec.of("ack")), "busy error")
    assert "already replying" in next(a["error"] for a in rec.of("ack") if a["error"])
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    handle.result(TIMEOUT)
    w.close()


def test_regenerate_and_clear_from_the_view(shub):
    SCRIPTS["m1"] = Script(chunks=["answer {turns}"])
    s = shub.session("a")
    s.send("q")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    first_id = w.messages[-1]["id"]
    view_msg(w, {"type": "regenerate", "client_id": "r"})
    rec.wait(lambda: len(w.messages) == 2 and w.messages[-1]["id"] != first_id and last_status(w) == "complete",
             "regenerated")
    assert [m["role"] for m in w.messages] == ["user", "assistant"]
    view_msg(w, {"type": "clear", "client_id": "c"})
    rec.wait(lambda: w.messages == [], "cleared")
    w.close()


def test_switching_model_from_the_selector_logs_a_switch(shub):
    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    view_msg(w, {"type": "switch_model", "model": "scripted:m2", "client_id": "s1"})
    rec.wait(lambda: w.model == "scripted:m2" and len(w.switches) == 1, "switch shown")
    assert w.switches[0]["from"] == "scripted:m1" and w.switches[0]["to"] == "scripted:m2"
    view_msg(w, {"type": "switch_model", "model": "not a model", "client_id": "s2"})
    assert rec.of("ack")[-1]["error"]
    w.close()


def test_changing_session_id_rebinds(shub):
    a, b = shub.session("a"), shub.session("b")
    b.send("for b")
    w = ChatWidget(session=a)
    assert w.messages == []
    w.session_id = b.id
    assert w.session_name == "b" and len(w.messages) == 2
    rec = Recorder(w)
    a.send("for a")  # no longer shown
    b.send("again")
    rec.wait(lambda: len(w.messages) == 4 and last_status(w) == "complete", "b's new reply")
    assert all(m["content"] != "for a" for m in w.messages)
    w.close()


def test_close_and_delete_are_shown(shub):
    s = shub.session("a")
    s.send("x")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    shub.close("a")
    rec.wait(lambda: w.session_state == "closed", "closed")
    view_msg(w, {"type": "send", "text": "reopen", "client_id": "c"})  # sending reopens it
    rec.wait(lambda: w.session_state == "open" and len(w.messages) == 4 and last_status(w) == "complete", "reopened")
    shub.delete("a")
    rec.wait(lambda: w.session_state == "deleted" and w.messages == [], "deleted")
    w.close()


def test_batch_progress_is_shown_until_done(shub):
    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    batch = {"completed": 1, "failed": 0, "total": 3, "active": "row 2", "done": False}
    shub.runtime.emit(Event(EventKind.SESSION_UPDATED, s.id, {"batch": batch}))
    rec.wait(lambda: w.batch == batch, "batch shown")
    shub.runtime.emit(Event(EventKind.SESSION_UPDATED, s.id, {"batch": {**batch, "completed": 3, "done": True}}))
    rec.wait(lambda: w.batch == {}, "batch hidden when done")
    w.close()


def test_no_key_reaches_synced_state(make_hub, monkeypatch):
    secret = "sk-test-DO-NOT-LEAK-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    hub = make_hub(settings=Settings(defaults=Defaults(model="openai:gpt-4o-mini")))
    hub.keys.set("anthropic", secret + "-file")
    w = ChatWidget(session=hub.session("a"))
    panel = HubPanel(hub=hub)
    state = json.dumps([w.get_state(), panel.get_state()], default=str)
    assert secret not in state and "DO-NOT-LEAK" not in state
    assert any(m["provider"] == "openai" and m["available"] for m in w.models)
    w.close()
    panel.close()


def test_hub_panel_lists_sessions_and_acts(shub):
    a = shub.session("a")
    a.send("hello")
    shub.session("b")
    panel = shub.panel()
    assert repr(panel) == "HubPanel()"
    rows = {r["name"]: r for r in panel.sessions}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["message_count"] == 2 and rows["a"]["status"] == "idle"
    assert rows["a"]["output_tokens"] == 2
    rec = Recorder(panel)
    gate = asyncio.Event()
    SCRIPTS["m1"] = Script(chunks=["..."], gate=gate)
    handle = a.submit("more")
    rec.wait(lambda: any(r["name"] == "a" and r["status"] == "streaming" for r in panel.sessions), "streaming row")
    view_msg(panel, {"type": "stop", "session_id": a.id})
    handle.result(TIMEOUT)
    rec.wait(lambda: any(m["session_id"] == a.id and m["status"] == "stopped" for m in rec.of("finished")),
             "finished notice")
    view_msg(panel, {"type": "delete", "session_id": shub.get("b").id})
    rec.wait(lambda: [r["name"] for r in panel.sessions] == ["a"] and panel.sessions[0]["status"] == "idle",
             "deleted row gone")
    view_msg(panel, {"type": "delete", "session_id": "no-such-id"})
    assert rec.of("notice")
    panel.close()


def test_tab_closes_its_widgets_when_its_view_goes(shub):
    pytest.importorskip("sidecar")
    s = shub.session("a")
    tab = open_tab(s)
    assert repr(tab) == "ChatTab(session='a', open=True)"
    assert tab.sidecar.title == "a" and tab.sidecar.anchor == "tab-after"
    assert tab.sidecar.outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == tab.widget.model_id
    view_msg(tab.widget, {"type": "view", "open": True})
    view_msg(tab.widget, {"type": "view", "open": False})
    assert not tab.is_open and tab.widget.comm is None
    s.send("still works")  # the session and its history stay
    assert len(shub.get("a").messages) == 2


def test_import_ai_sessions_does_not_load_widgets():
    code = "import sys, ai_sessions; print('anywidget' in sys.modules, 'ai_sessions.widgets' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["False", "False"]


def test_fallback_is_explained_in_the_chat(shub):
    with pytest.warns(UserWarning):
        s = shub.session("cloud", model="openai:gpt-4o")  # no key in the test environment
    w = ChatWidget(session=s)
    assert w.model == "scripted:m1"
    assert w.notice.startswith("Replies come from scripted:m1: no API key for openai")
    openai = [m for m in w.models if m["provider"] == "openai"]
    assert openai and not any(m["available"] for m in openai)
    assert all("no API key" in (m["reason"] or "") for m in openai)
    w.close()
