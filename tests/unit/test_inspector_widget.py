"""The inspector widget, kernel side: its traits from the store, live updates while the session replies
(incremental reads, through the throttle), the replies drawn at most, Inspect from the panel and the chat,
the Auto entry of the chat's model list."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import AutoSettings, Defaults, Settings
from tests.scripted import SCRIPTS, Script
from tests.unit.test_widgets import Recorder, view_msg

widgets = pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first (cd js && npm run build)")
InspectorWidget = widgets.InspectorWidget
SCRIPTED = {"scripted": ProviderConfig("scripted", "scripted")}


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    SCRIPTS["m1"] = Script(chunks=["Hello", " world"])
    return make_hub(settings=Settings(defaults=Defaults(model="scripted:m1"), providers=SCRIPTED,
                                      auto=AutoSettings(("scripted:m1", "scripted:m2"))))


def kinds(widget) -> list[str]:
    return [e["kind"] for e in widget.events]


def test_the_widget_shows_the_stored_timeline_and_totals(shub):
    s = shub.session("a")
    s.send("one")
    w = s.inspect()
    assert repr(w) == "InspectorWidget(session='a')"
    assert (w.session_id, w.session_name, w.session_state, w.hidden_replies) == (s.id, "a", "open", 0)
    assert kinds(w) == ["session.created", "llm.request.started", "llm.response.completed"]
    end = w.events[-1]
    assert (end["model"], end["status"], end["message"], end["output_tokens"]) == ("scripted:m1", "complete", 2, 2)
    assert isinstance(end["time"], float) and end["first_token_s"] is not None
    assert [(t["model"], t["replies"], t["failed"]) for t in w.totals] == [("scripted:m1", 1, 0)]
    assert w.live == {} and w.clock > 0
    w.close()


def test_it_follows_a_reply_while_it_streams(shub):
    gate, started = asyncio.Event(), threading.Event()
    SCRIPTS["m1"] = Script(chunks=["partial"], gate=gate, started=started)
    s = shub.session("a")
    w = s.inspect()
    rec = Recorder(w)
    handle = s.submit("long")
    rec.wait(lambda: w.live.get("state") == "streaming", "the live reply, streaming")
    rec.wait(lambda: kinds(w)[-1:] == ["llm.request.started"], "its start, read from the store")
    assert w.events[-1]["status"] == "streaming"
    assert w.live["message_id"] == w.events[-1]["message_id"] and w.live["first_token_at"] is not None
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    handle.result(10)
    rec.wait(lambda: kinds(w)[-1:] == ["llm.response.completed"] and w.live == {}, "the end")
    assert [t["replies"] for t in w.totals] == [1]
    ids = [e["id"] for e in w.events]
    assert ids == sorted(set(ids))  # read incrementally: no row twice
    w.close()


def test_model_switches_and_auto_choices_appear(shub):
    s = shub.session("a", model="auto")
    w = s.inspect()
    rec = Recorder(w)
    s.send("x")
    rec.wait(lambda: "llm.response.completed" in kinds(w), "the reply")
    switch = next(e for e in w.events if e["kind"] == "model.switched")
    assert (switch["from_model"], switch["model"], switch["switch_reason"]) == ("auto", "scripted:m1",
                                                                                "auto: first candidate")
    w.close()


def test_only_the_last_replies_are_drawn_but_all_are_counted(shub):
    s = shub.session("a")
    for i in range(5):
        s.send(f"q{i}")
    w = InspectorWidget(session=s, limit=2)
    assert w.hidden_replies == 3
    assert [e["message"] for e in w.events if e["kind"] == "llm.request.started"] == [8, 10]
    assert w.totals[0]["replies"] == 5
    w.close()


def test_clearing_the_session_starts_the_picture_over(shub):
    s = shub.session("a")
    s.send("x")
    w = s.inspect()
    rec = Recorder(w)
    s.clear()
    s.send("y")
    rec.wait(lambda: kinds(w) == ["session.updated", "llm.request.started", "llm.response.completed"],
             "the clear, then only the new reply")
    w.close()


def test_a_deleted_session_is_shown(shub):
    s = shub.session("a")
    w = s.inspect()
    rec = Recorder(w)
    shub.delete("a")
    rec.wait(lambda: w.session_state == "deleted", "deleted")
    w.close()


def test_inspect_from_the_panel_and_the_chat_opens_a_tab(shub, monkeypatch):
    pytest.importorskip("sidecar")
    opened: list = []
    monkeypatch.setattr(widgets.inspector, "InspectorTab", lambda session: opened.append(session.name))
    s = shub.session("a")
    panel = shub.panel()
    view_msg(panel, {"type": "inspect", "session_id": s.id})
    chat = s.chat()
    view_msg(chat, {"type": "inspect", "client_id": "i1"})
    assert opened == ["a", "a"]
    panel.close()
    chat.close()


def test_the_inspector_tab_closes_with_its_view(shub):
    pytest.importorskip("sidecar")
    tab = widgets.open_inspector(shub.session("a"))
    assert tab.sidecar.title == "Inspect a"
    view_msg(tab.widget, {"type": "view", "open": True})
    view_msg(tab.widget, {"type": "view", "open": False})
    assert not tab.is_open


def test_the_chat_offers_auto_with_its_candidates(shub):
    chat = shub.session("a").chat()
    assert chat.models[0] == {"provider": "auto", "name": "auto", "short_name": "Auto", "available": True,
                              "reason": None, "candidates": ["scripted:m1", "scripted:m2"]}
    view_msg(chat, {"type": "switch_model", "model": "auto", "client_id": "s"})
    rec = Recorder(chat)
    rec.wait(lambda: chat.model == "auto", "the session on auto")
    assert shub.get("a").requested_model == "auto"
    chat.close()


def test_the_first_token_updates_the_live_lane_at_once(shub):
    """Deltas are not stored; the first one switches the live lane from waiting to streaming."""
    gate, started = asyncio.Event(), threading.Event()
    SCRIPTS["m1"] = Script(chunks=["a"], gate=gate, started=started)
    s = shub.session("a")
    w = s.inspect()
    rec = Recorder(w)
    seen: list[str] = []
    w.observe(lambda change: seen.append(change["new"].get("state", "")), names="live")
    handle = s.submit("q")
    rec.wait(lambda: "streaming" in seen, "streaming")  # while the reply is held open by the gate
    assert seen[:seen.index("streaming")].count("waiting") <= 1
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    handle.result(10)
    rec.wait(lambda: w.live == {}, "idle")
    w.close()
