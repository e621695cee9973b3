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


@pytest.fixture(autouse=True)
def unknown_front_end():
    """Each test starts not knowing whether the front end has tabs (views tell the kernel)."""
    from ai_sessions.widgets.front_end import FRONT_END

    FRONT_END.tabs = None
    yield
    FRONT_END.tabs = None


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


def test_batch_progress_is_shown_until_done_then_leaves_a_summary(shub, monkeypatch):
    monkeypatch.setattr(widgets.chat, "FLUSH_INTERVAL_S", 0.0)  # each event is flushed as it is handled
    s = shub.session("a")
    s.send("before the batch")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    batch = {"completed": 1, "failed": 0, "total": 3, "active": "row 2", "done": False}
    shub.runtime.emit(Event(EventKind.SESSION_UPDATED, s.id, {"batch": batch}))
    rec.wait(lambda: w.batch == batch, "batch shown")
    shub.runtime.emit(Event(EventKind.SESSION_UPDATED, s.id, {"batch": {**batch, "completed": 3, "done": True}}))
    rec.wait(lambda: w.batch.get("done") is True, "batch done")
    # what the browser's summary line needs: its counts, how long it took, where in the log it goes
    assert w.batch["completed"] == 3 and w.batch["failed"] == 0 and w.batch["total"] == 3
    assert w.batch["elapsed_s"] >= 0 and w.batch["message_index"] == 2
    summary = dict(w.batch)
    shub.runtime.emit(Event(EventKind.SESSION_UPDATED, s.id, {"batch": {**batch, "completed": 3, "done": True}}))
    shub.runtime.loop.call(lambda: None)  # the batch tells its end twice (its last item, then its close): handled now
    assert w.batch == summary
    w.close()


def test_switches_carry_what_answered_and_go_with_a_clear(shub):
    SCRIPTS["m2"] = Script(chunks=["from m2"])
    s = shub.session("a")
    s.send("one")
    s.switch_model("scripted:m2")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    assert w.switches[0]["to"] == "scripted:m2" and w.switches[0]["answered_by"] == "scripted:m2"
    s.send("two")
    rec.wait(lambda: len(w.messages) == 4 and last_status(w) == "complete", "second reply")
    assert w.switches[0]["message_index"] == 2 and w.switches[0]["answered_by"] == "scripted:m2"
    view_msg(w, {"type": "clear", "client_id": "c"})
    rec.wait(lambda: w.messages == [], "cleared")
    # the switches trait follows the messages: none is left pointing past the last message
    assert all(sw["message_index"] <= len(w.messages) for sw in w.switches)
    w.close()


def test_a_switch_to_an_unusable_model_says_which_model_answers(shub):
    s = shub.session("a")
    s.send("one")
    with pytest.warns(UserWarning):
        s.switch_model("openai:gpt-4o")  # no key in the test environment: the default answers
    w = ChatWidget(session=s)
    switch = w.switches[-1]
    assert switch["to"] == "openai:gpt-4o" and switch["answered_by"] == "scripted:m1"
    assert "no API key for openai" in switch["fallback_reason"]
    w.close()


def test_a_provider_without_listed_models_stays_in_the_selector(make_hub):
    settings = Settings(defaults=Defaults(model="scripted:m1"),
                        providers={**SCRIPTED, "azure": ProviderConfig("azure", "azure",
                                                                      {"endpoint": "https://x.openai.azure.com"})})
    hub = make_hub(settings=settings)
    w = ChatWidget(session=hub.session("a"))
    azure = [m for m in w.models if m["provider"] == "azure"]
    assert len(azure) == 1 and azure[0]["name"] == "" and not azure[0]["available"]
    assert azure[0]["reason"]
    w.close()


def test_offsets_of_streamed_text_count_utf16_units(shub):
    gate = asyncio.Event()
    SCRIPTS["m1"] = Script(chunks=["😀a"], gate=gate)
    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    handle = s.submit("go")
    rec.wait(lambda: bool(rec.of("delta")), "first text")
    view_msg(w, {"type": "hello"})  # the resend starts at 0 whatever was sent
    rec.wait(lambda: len(rec.of("delta")) >= 2, "resend")
    assert [(d["offset"], d["text"]) for d in rec.of("delta")][-1] == (0, "😀a")
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    handle.result(TIMEOUT)
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
    assert tab.widget.placement == "tab"
    assert repr(tab) == "ChatTab(session='a', open=False, not confirmed by the front end yet)"
    assert tab.sidecar.title == "a" and tab.sidecar.anchor == "tab-after"
    assert tab.sidecar.outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == tab.widget.model_id
    view_msg(tab.widget, {"type": "view", "open": True})
    view_msg(tab.widget, {"type": "where", "tabs": True, "in_tab": True})
    assert repr(tab) == "ChatTab(session='a', open=True)"
    view_msg(tab.widget, {"type": "view", "open": False})
    assert not tab.is_open and tab.widget.comm is None
    s.send("still works")  # the session and its history stay
    assert len(shub.get("a").messages) == 2


def test_no_tab_is_reported_where_the_front_end_has_none(shub):
    pytest.importorskip("sidecar")
    s = shub.session("nb7")
    tab = open_tab(s)  # nothing known yet: a sidecar is tried, and the cell shows the chat too
    view_msg(tab.widget, {"type": "where", "tabs": False, "in_tab": False})  # its view in the cell: no tabs here
    assert tab.sidecar is None and not tab.is_open
    assert repr(tab) == "ChatTab(session='nb7', open=False, shown in the cell output: tabs need JupyterLab)"
    second = open_tab(s)  # known now: no sidecar at all
    assert second.sidecar is None and not second.is_open
    assert tab.widget.comm is not None  # the chat in the cell stays
    tab.close()
    second.close()


def test_the_panel_shows_a_chat_inside_itself_where_no_tab_can_open(shub):
    s = shub.session("inline")
    panel = shub.panel()
    view_msg(panel, {"type": "open", "session_id": s.id, "tabs": False})
    view_msg(panel, {"type": "open", "session_id": s.id, "tabs": False})  # once is enough
    (shown,) = panel.inline_chats
    assert shown["session_id"] == s.id and shown["name"] == "inline"
    chat = panel._inline[shown["model_id"]]
    assert chat.session_id == s.id and chat.comm is not None
    view_msg(panel, {"type": "close_inline", "model_id": shown["model_id"]})
    assert panel.inline_chats == [] and chat.comm is None
    panel.close()


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


def test_saved_state_carries_a_small_loader_and_no_local_path(shub):
    s = shub.session("small")
    s.send("hello")
    w, panel = ChatWidget(session=s), HubPanel(hub=shub)
    state = w.get_state()
    assert "_css" not in state and len(state["_esm"]) < 4096  # the chat's code and styles load by URL
    assert "import(" in state["_esm"]
    conversation = len(json.dumps(state["messages"]))
    assert len(json.dumps(state, default=str)) <= conversation + 16_000
    assert "scope" not in panel.get_state()
    assert panel.scope == shub.scope
    w.close()
    panel.close()


def test_a_view_with_no_server_gets_the_bundle_from_the_kernel(shub):
    from ai_sessions.widgets._bundle import STATIC

    w = ChatWidget(session=shub.session("vscode"))
    rec = Recorder(w)
    view_msg(w, {"type": "bundle"})
    (sent,) = rec.of("bundle")
    impl = (STATIC / "chat-impl.js").read_text(encoding="utf-8")
    assert sent["js"].strip() == impl.strip() and impl.rstrip().endswith(f'export const buildId = "{sent["id"]}";')
    assert f'var i="{sent["id"]}"' in w._esm or f'"{sent["id"]}"' in w._esm  # the loader expects this build
    assert "url(\"data:font/woff2;base64," in sent["css"] and "./fonts/" not in sent["css"]
    w.close()


def test_the_cell_output_carries_the_conversation_as_escaped_html(shub):
    SCRIPTS["m1"] = Script(chunks=["<img src=x onerror=alert(1)> **bold**"])
    s = shub.session("shown")
    s.send("what is <script>alert(1)</script>?")
    w = ChatWidget(session=s)
    data, _ = w._repr_mimebundle_()
    assert data["text/plain"] == "ChatWidget(session='shown')"
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    page = data["text/html"]
    assert "what is &lt;script&gt;alert(1)&lt;/script&gt;?" in page
    assert "&lt;img src=x onerror=alert(1)&gt; **bold**" in page
    assert "<script" not in page and "<img" not in page
    w.close()


def test_the_static_copy_of_a_long_conversation_stays_small():
    from ai_sessions.widgets.static_html import MAX_CHARS, conversation_html

    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " + "x" * 500,
                 "model": None if i % 2 == 0 else "openai:gpt-4o-mini", "status": "complete"} for i in range(200)]
    page = conversation_html("long", messages)
    assert len(page) < MAX_CHARS + 4_000
    assert "message 199 " in page and "message 0 " not in page
    assert "earlier messages not shown" in page


def test_messages_from_the_hub_thread_carry_the_current_cell_as_parent(monkeypatch):
    """A reply started in one cell may end in another: its messages must not name the first cell."""
    import contextvars

    import ipywidgets

    from ai_sessions.widgets._base import KernelWidget

    parent: contextvars.ContextVar[str] = contextvars.ContextVar("parent")
    seen: list[str] = []
    # ipykernel reads the parent header from the sending context, else from the request it handles now
    monkeypatch.setattr(ipywidgets.Widget, "_send", lambda self, msg, buffers=None: seen.append(
        parent.get("the request handled now")))
    class Probe(KernelWidget):
        def _on_hub_thread(self) -> bool:
            return threading.current_thread() is not threading.main_thread()

    probe = Probe()
    seen.clear()
    parent.set("cell 2")  # what the hub thread's tasks inherit: the cell that scheduled them
    scheduled = contextvars.copy_context()
    thread = threading.Thread(target=scheduled.run, args=(probe.send, {}))
    thread.start()
    thread.join()
    probe.send({})  # on the main thread, the context is the kernel's own
    assert seen == ["the request handled now", "cell 2"]
    monkeypatch.undo()
    probe.close()


def test_a_retry_shows_in_the_progress_trait_then_the_reply_streams(shub, monkeypatch):
    """Issue 10 item 14, kernel side: a rate-limited attempt is shown as "retrying" with attempt and wait,
    in the contract's shape, and the reply goes on."""
    import ai_sessions.retry as retry
    from ai_sessions.errors import RateLimited
    from ai_sessions.widgets.contract import ProgressData

    monkeypatch.setattr(retry, "MAX_RETRY_AFTER_S", 0.5)
    gate = asyncio.Event()
    SCRIPTS["m1"] = Script(chunks=["after the wait"], gate=gate,
                           errors=[RateLimited("rate limit reached", provider="scripted", retry_after=0.5)])
    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    handle = s.submit("go")
    rec.wait(lambda: w.progress.get("state") == "retrying", "retrying")
    progress = ProgressData.model_validate(w.progress)
    assert progress.retry is not None
    assert (progress.retry.attempt, progress.retry.max_attempts, progress.retry.kind) == (2, 4, "rate_limited")
    assert progress.retry.wait_s == 0.5 and progress.retry.reason.startswith("rate limit reached")
    rec.wait(lambda: w.progress.get("state") == "streaming", "streaming after the wait")
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    assert handle.result(TIMEOUT).content == "after the wait"


# -- issue 9: closed widgets are freed ------------------------------------------------------------------
def test_closed_widgets_are_garbage_collected(shub):
    """Issue 9, item 8: a closed ChatWidget or HubPanel, once dereferenced, is collected (nothing global
    keeps every instance alive)."""
    import gc
    import weakref

    s = shub.session("a")
    s.send("hi")
    chat, panel, other = ChatWidget(session=s), HubPanel(hub=shub), s.chat()
    refs = [weakref.ref(chat), weakref.ref(panel), weakref.ref(other)]
    s.send("again")  # the widgets follow a reply
    for widget in (chat, panel, other):
        widget.close()
    del chat, panel, other, widget
    shub.runtime.loop.call(lambda: None)  # work the widgets queued on the hub thread has run
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]


def test_a_prompt_the_store_cannot_take_goes_back_to_the_view(shub):
    """Issue 9, item 12: when the store fails while a prompt from the chat is stored (a lock held too long,
    a damaged file), nothing is half-stored and the view gets the error for that prompt, which puts the
    text back in its input box (chat_view.ts) instead of losing it."""
    import sqlite3

    s = shub.session("a")
    w = ChatWidget(session=s)
    rec = Recorder(w)
    conn = sqlite3.connect(shub.store.path, isolation_level=None)
    conn.execute("CREATE TRIGGER broken BEFORE INSERT ON messages "
                 "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END")
    view_msg(w, {"type": "send", "text": "keep me", "client_id": "c1"})
    rec.wait(lambda: any(a["client_id"] == "c1" and a["error"] for a in rec.of("ack")), "the error for c1")
    error = next(a["error"] for a in rec.of("ack") if a["error"])
    assert str(shub.store.path) in error and "injected" in error
    conn.execute("DROP TRIGGER broken")
    conn.close()
    assert s.messages == () and w.messages == []
    w.close()
