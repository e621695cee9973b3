"""The chat and panel actions of issue 13, kernel side: edit, branch switching, delete, retry, the Session
settings popover, attachments in a send (bytes as buffers), per-message details, and the panel's search
opening a chat at a message. Messages are handled as the browser sends them, checked against the contract."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ai_sessions.errors import RateLimited
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Defaults, Settings
from tests.scripted import SCRIPTS, Script

pytest.importorskip("anywidget")
pydantic = pytest.importorskip("pydantic")
widgets = pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first (cd js && npm run build)")
from ai_sessions.widgets import contract  # noqa: E402

ChatWidget = widgets.ChatWidget
TIMEOUT = 10
VIEW_MSG = pydantic.TypeAdapter(contract.ViewMsg)
PANEL_MSG = pydantic.TypeAdapter(contract.PanelViewMsg)
CHAT = pydantic.TypeAdapter(contract.ChatTraits)
PNG = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 24


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    SCRIPTS["m1"] = Script(chunks=["re: {last}"])
    return make_hub(settings=Settings(defaults=Defaults(model="scripted:m1", max_tokens=512),
                                      providers={"scripted": ProviderConfig("scripted", "scripted")}))


class Acks:
    """The widget's acks by client id (sent from the kernel's main thread or the hub thread)."""

    def __init__(self, widget: Any) -> None:
        self.by_id: dict[str, str | None] = {}
        self.cond = threading.Condition()
        original = widget.send

        def send(content: dict[str, Any], buffers: Any = None) -> None:
            if content.get("type") == "ack":
                with self.cond:
                    self.by_id[content["client_id"]] = content["error"]
                    self.cond.notify_all()
            original(content, buffers)

        widget.send = send

    def error(self, client_id: str) -> str | None:
        with self.cond:
            assert self.cond.wait_for(lambda: client_id in self.by_id, TIMEOUT)
            return self.by_id[client_id]


def act(widget: Any, msg: dict[str, Any], buffers: list[bytes] | None = None) -> None:
    VIEW_MSG.validate_python(msg, strict=True)
    widget._on_view_msg(widget, msg, [memoryview(b) for b in buffers or []])


def wait_for(widget: Any, predicate: Any, what: str) -> None:
    """Wait until ``predicate()`` holds, checked on every trait change of ``widget`` (no polling)."""
    cond = threading.Condition()

    def changed(_change: Any) -> None:
        with cond:
            cond.notify_all()

    widget.observe(changed)
    try:
        with cond:
            assert cond.wait_for(predicate, TIMEOUT), f"timed out waiting for {what}"
    finally:
        widget.unobserve(changed)


def contents(widget: Any) -> list[str]:
    return [m["content"] for m in widget.messages]


def test_edit_and_the_branch_switcher(shub):
    s = shub.session("a")
    s.send("one")
    w = ChatWidget(session=s)
    act(w, {"type": "edit", "message_id": w.messages[0]["id"], "text": "ONE", "client_id": "e1"})
    wait_for(w, lambda: contents(w) == ["ONE", "re: ONE"] and w.messages[-1]["status"] == "complete", "the reply")
    state = w.get_state()
    CHAT.validate_python({k: v for k, v in state.items() if k in contract.ChatTraits.model_fields}, strict=True)
    first = w.messages[0]
    assert first["branch"] == {"index": 1, "count": 2, "previous": first["branch"]["previous"], "next": None}
    act(w, {"type": "checkout", "message_id": first["branch"]["previous"], "client_id": "c1"})
    wait_for(w, lambda: contents(w) == ["one", "re: one"], "the other branch")
    assert w.messages[0]["branch"]["index"] == 0 and w.messages[0]["branch"]["next"] == first["id"]
    w.close()


def test_delete_retry_and_details(shub):
    s = shub.session("a")
    s.send("one")
    s.send("two")
    w = ChatWidget(session=s)
    acks = Acks(w)
    reply = w.messages[1]
    timing = reply["timing"]
    assert timing["first_token_s"] is not None and timing["elapsed"] >= timing["first_token_s"]
    act(w, {"type": "delete", "message_id": w.messages[0]["id"], "client_id": "d1"})
    assert acks.error("d1") is None
    wait_for(w, lambda: contents(w) == ["two", "re: two"], "the deletion")
    SCRIPTS["m1"].errors = [RateLimited("slow down")] * 4
    with pytest.raises(RateLimited):
        s.send("three")
    wait_for(w, lambda: w.messages[-1]["status"] == "failed", "the failure")
    act(w, {"type": "retry", "message_id": w.messages[-1]["id"], "client_id": "r1"})
    wait_for(w, lambda: w.messages[-1]["status"] == "complete" and contents(w)[-1] == "re: three", "the retry")
    assert len(w.messages) == 4 and "branch" not in w.messages[-1]  # a failed reply is replaced, not kept
    act(w, {"type": "delete", "message_id": "not-there", "client_id": "d2"})
    assert "not on the current branch" in (acks.error("d2") or "")
    w.close()


def test_details_survive_a_restart(shub, make_hub):
    s = shub.session("a")
    s.send("one")
    shub.shutdown()
    again = make_hub(settings=shub.settings)
    w = ChatWidget(session=again.session("a"))
    assert w.messages[1]["timing"]["first_token_s"] is not None  # from the stored final event
    w.close()


def test_the_settings_popover_saves_to_the_session(shub):
    SCRIPTS["m2"] = Script(chunks=["two"])
    s = shub.session("a", temperature=0.4)
    w = ChatWidget(session=s)
    acks = Acks(w)
    settings = w.session_settings
    contract.SessionSettingsData.model_validate(settings, strict=True)
    assert settings["own"] == {"model": "scripted:m1", "temperature": 0.4, "max_tokens": None, "system_prompt": None}
    assert settings["defaults"]["max_tokens"] == 512 and settings["accepts"] == {"images": True, "documents": False}
    act(w, {"type": "configure", "model": "scripted:m2", "temperature": None, "max_tokens": 64,
            "system_prompt": "be terse", "client_id": "s1"})
    assert acks.error("s1") is None
    own = lambda: w.session_settings["own"]  # noqa: E731
    wait_for(w, lambda: own()["max_tokens"] == 64 and own()["model"] == "scripted:m2", "the new settings")
    assert w.session_settings["own"]["temperature"] is None and s.system_prompt == "be terse"
    s.send("q")
    request = SCRIPTS["m2"].requests[-1]
    assert (request.max_tokens, request.temperature, request.system) == (64, None, "be terse")
    act(w, {"type": "configure", "model": "scripted:m2", "temperature": 5, "max_tokens": None, "system_prompt": "",
            "client_id": "s2"})
    assert "temperature 5" in (acks.error("s2") or "")
    w.close()


def test_attachments_arrive_as_buffers_and_are_stored_with_the_message(shub):
    s = shub.session("a")
    w = ChatWidget(session=s)
    acks = Acks(w)
    act(w, {"type": "send", "text": "look", "client_id": "a1", "attachments": [
        {"name": "dot.png", "media_type": "image/png", "size": len(PNG)},
        {"name": "t.csv", "media_type": "text/csv", "size": 8}]}, [PNG, b"a,b\n1,2\n"])
    assert acks.error("a1") is None
    wait_for(w, lambda: len(w.messages) == 2 and w.messages[-1]["status"] == "complete", "the reply")
    parts = w.messages[0]["parts"]
    assert [(p["kind"], p.get("name"), p.get("size")) for p in parts] == [
        ("text", None, None), ("image", "dot.png", len(PNG)), ("file", "t.csv", 8)]
    assert all("data" not in p for p in parts)  # bytes never go back to the browser
    sent = SCRIPTS["m1"].requests[-1].turns[-1].parts
    assert [p.kind for p in sent] == ["text", "image", "file"] and sent[1].data == PNG
    act(w, {"type": "send", "text": "", "client_id": "a2", "attachments": [
        {"name": "big.bin", "media_type": "application/zip", "size": 3}]}, [b"PK\x03"])
    assert "no model can read big.bin" in (acks.error("a2") or "")
    assert len(s.messages) == 2
    w.close()


def test_a_search_hit_opens_its_chat_at_the_message(shub):
    from ai_sessions.widgets.front_end import FRONT_END

    s = shub.session("notes")
    s.send("the capybara question")
    s.edit(0, "another question")
    panel = shub.panel()
    sent: list[dict[str, Any]] = []
    panel.send = lambda content, buffers=None: sent.append(content)
    msg = {"type": "search", "query": "capybara", "all_scopes": False}
    PANEL_MSG.validate_python(msg, strict=True)
    panel._on_view_msg(panel, msg, [])
    [results] = sent
    pydantic.TypeAdapter(contract.PanelKernelMsg).validate_python(results, strict=True)
    hit = next(h for h in results["hits"] if h["role"] == "user")  # the reply quotes it too
    assert hit["session_name"] == "notes" and {"text": "capybara", "match": True} in hit["highlights"]
    open_msg = {"type": "open", "session_id": hit["session_id"], "tabs": False, "message_id": hit["message_id"]}
    PANEL_MSG.validate_python(open_msg, strict=True)
    panel._on_view_msg(panel, open_msg, [])
    (shown,) = panel.inline_chats
    chat = panel._inline[shown["model_id"]]
    assert chat.reveal["message_id"] == hit["message_id"]  # scrolled to it ...
    assert s.messages[0].id == hit["message_id"]  # ... on its branch, checked out
    FRONT_END.tabs = None
    panel.close()


def test_the_attachment_limit_comes_from_settings(make_hub):
    from ai_sessions.settings import ContextSettings, load_settings

    SCRIPTS.clear()
    SCRIPTS["m1"] = Script(chunks=["ok"])
    hub = make_hub(settings=Settings(defaults=Defaults(model="scripted:m1"),
                                     context=ContextSettings(max_attachment_mb=0.001),
                                     providers={"scripted": ProviderConfig("scripted", "scripted")}))
    w = ChatWidget(session=hub.session("a"))
    acks = Acks(w)
    assert w.session_settings["limits"]["max_total_bytes"] == 1048
    act(w, {"type": "send", "text": "x", "client_id": "big", "attachments": [
        {"name": "t.txt", "media_type": "text/plain", "size": 2000}]}, [b"a" * 2000])
    assert "over the 1 KB a message can carry" in (acks.error("big") or "")
    w.close()
    toml = "[context]\nmax_attachment_mb = 2.5\n"
    path = hub.store.path.parent / "s.toml"
    path.write_text(toml)
    assert load_settings([path]).context.max_attachment_mb == 2.5


def test_the_settings_popover_of_an_auto_session_says_what_some_candidate_takes(make_hub):
    """A chat on model="auto" opens (it raised UnknownModel: 'auto' has no capabilities of its own)."""
    from tests.unit.test_auto import auto_settings

    s = make_hub(settings=auto_settings()).session("a", model="auto")
    w = widgets.ChatWidget(session=s)
    assert w.session_settings["own"]["model"] == "auto"
    assert w.session_settings["accepts"] == {"images": True, "documents": True}  # the vision candidate does
    w.close()


def test_branch_places_are_read_again_only_when_the_branch_changes_other_than_by_growing(shub, monkeypatch):
    """A streamed reply syncs the chat's messages three times; appending cannot give any message siblings."""
    from ai_sessions.widgets.chat_extras import BranchPlaces

    s = shub.session("places", model="scripted:m")
    s.send("one")
    reads: list[int] = []
    real = shub.store.siblings
    monkeypatch.setattr(shub.store, "siblings", lambda sid, ids: reads.append(len(ids)) or real(sid, ids))
    places = BranchPlaces()
    ids = lambda: tuple(m.id for m in s.messages)  # noqa: E731
    places.of(s, ids())
    s.send("two")
    assert places.of(s, ids()) == {} and reads == [2]  # grown: nothing read
    s.edit(2, "two, again")
    edited = places.of(s, ids())
    assert reads == [2, 4] and edited[s.messages[2].id].to_dict()["count"] == 2
