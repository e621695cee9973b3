"""Hub: identity and scope, lifecycle (fork/clear/close/delete), export/import, fallback."""

from __future__ import annotations

import json
import warnings

import pytest

from ai_sessions import FallbackWarning, SessionNotFound
from ai_sessions.errors import AiSessionsError, UnknownModel
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Defaults, Settings
from tests.scripted import SCRIPTS

SCRIPTED = {"scripted": ProviderConfig("scripted", "scripted")}


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    return make_hub(settings=Settings(defaults=Defaults(model="scripted:default"), providers=SCRIPTED))


def test_session_gets_or_creates_by_name_in_scope(shub, make_hub):
    a = shub.session("analysis")
    assert shub.session("analysis") is a
    assert shub.get("analysis") is a and shub.get(a.id) is a
    other_notebook = make_hub(settings=shub.settings, scope="other.ipynb")
    b = other_notebook.session("analysis")
    assert b.id != a.id


def test_default_scope_is_the_notebook_path(make_hub, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/work/eda.ipynb")
    from ai_sessions.hub import default_scope

    assert default_scope() == "/home/me/work/eda.ipynb"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert default_scope().endswith(str(monkeypatch)) is False  # falls back to the cwd
    import os

    assert default_scope() == os.getcwd()


def test_same_session_after_restart_with_history(shub, make_hub):
    s = shub.session("analysis", temperature=0.2)
    s.send("hi")
    shub.shutdown()
    again = make_hub(settings=shub.settings).session("analysis")
    assert again.id == s.id
    assert [m.content for m in again.messages] == ["hi", "Hello world"]
    assert again.params == {"temperature": 0.2}


def test_new_session_inherits_defaults_and_overrides_persist(make_hub):
    SCRIPTS.clear()
    settings = Settings(defaults=Defaults(model="scripted:d", temperature=0.5, max_tokens=99,
                                          system_prompt="sys"), providers=SCRIPTED)
    hub = make_hub(settings=settings)
    s = hub.session("x")
    s.send("hi")
    request = SCRIPTS["d"].requests[-1]
    assert (request.temperature, request.max_tokens, request.system) == (0.5, 99, "sys")
    s.configure(temperature=0.1, system_prompt="other")
    s.send("again")
    request = SCRIPTS["d"].requests[-1]
    assert (request.temperature, request.max_tokens, request.system) == (0.1, 99, "other")
    with pytest.raises(AiSessionsError, match="unknown parameter"):
        s.configure(temprature=1)


def test_fork_copies_first_messages(shub):
    s = shub.session("main")
    s.send("one")
    s.send("two")
    fork = s.fork(at=2, name="what-if")
    assert [m.content for m in fork.messages] == ["one", "Hello world"]
    assert fork.id != s.id and len(s.messages) == 4
    fork.send("three")
    assert len(s.messages) == 4 and len(fork.messages) == 4
    with pytest.raises(AiSessionsError, match="outside"):
        s.fork(at=9)


def test_clear_close_delete(shub):
    s = shub.session("x")
    s.send("hi")
    s.clear()
    assert s.messages == () and shub.store.load_messages(s.id) == []
    s.send("hi")
    s.close()
    with pytest.raises(AiSessionsError, match="closed"):
        s.send("after close")
    reopened = shub.session("x")
    assert reopened is not s and len(reopened.messages) == 2
    shub.delete("x")
    with pytest.raises(SessionNotFound):
        shub.get("x")
    assert shub.store.load_messages(s.id) == []


def test_export_import_round_trip(shub):
    s = shub.session("orig")
    s.send("hi")
    s.switch_model("scripted:other", reason="try")
    s.send("more")
    text = s.export("json")
    copy = shub.import_session(text, name="copy")
    keys = ("role", "content", "model", "status", "usage")
    assert [{k: m.to_dict()[k] for k in keys} for m in copy.messages] == [
        {k: m.to_dict()[k] for k in keys} for m in s.messages]
    assert [(w.from_model, w.to_model, w.message_index) for w in copy.model_switches] == [
        ("scripted:default", "scripted:other", 2)]
    with pytest.raises(AiSessionsError, match="already exists"):
        shub.import_session(text)
    with pytest.raises(AiSessionsError, match="not valid JSON"):
        shub.import_session("{nope")
    md = s.export("markdown")
    assert "# orig" in md and "switched from `scripted:default` to `scripted:other`: try" in md
    assert json.loads(text)["format"] == "ai_sessions"


def test_sessions_listing_and_usage_totals(shub):
    a, b = shub.session("a"), shub.session("b")
    a.send("1")
    b.send("2")
    b.send("3")
    rows = {r.name: r for r in shub.sessions()}
    assert rows["a"].message_count == 2 and rows["b"].message_count == 4
    assert rows["b"].usage.output_tokens == 4
    assert shub.usage.output_tokens == 6


def test_fallback_to_default_when_provider_unknown_tells_once(shub):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = shub.session("x", model="nowhere:model")
        s.send("hi")
        s.send("again")
    fallbacks = [w for w in caught if issubclass(w.category, FallbackWarning)]
    assert len(fallbacks) == 1 and "unknown provider 'nowhere'" in str(fallbacks[0].message)
    assert s.model == "scripted:default" and s.requested_model == "nowhere:model"
    assert "unknown provider" in s.fallback_reason
    assert s.messages[-1].model == "scripted:default"


def test_fallback_without_key_goes_to_local_model(make_hub):
    hub = make_hub()
    with pytest.warns(FallbackWarning, match="OPENAI_API_KEY"):
        s = hub.session("x", model="openai:gpt-4o-mini")
    assert s.model == "local:smollm2"


def test_fallback_warning_points_at_the_callers_line(make_hub):
    hub = make_hub()
    with pytest.warns(FallbackWarning) as record:
        s = hub.session("x")
        s.switch_model("anthropic:claude-sonnet-4-6")  # no key: falls back, warned from this line
    [warning] = record.list
    assert warning.filename == __file__ and "ANTHROPIC_API_KEY" in str(warning.message)


def test_switching_to_the_model_in_use_changes_nothing(shub):
    s = shub.session("x", model="scripted:a")
    seen = []
    shub.on("model.switched", seen.append)
    assert s.switch_model("scripted:a") is None
    assert not s.model_switches and seen == []
    switch = s.switch_model("scripted:b", reason="why not")
    assert (switch.from_model, switch.to_model, switch.reason) == ("scripted:a", "scripted:b", "why not")
    assert len(s.model_switches) == 1


def test_malformed_model_name_is_a_clear_error(shub):
    with pytest.raises(UnknownModel, match="provider:model"):
        shub.session("x", model="gpt-4o")


def test_bad_session_name(shub):
    with pytest.raises(AiSessionsError, match="bad session name"):
        shub.session("a\nb")


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_an_empty_or_blank_name_is_refused_not_auto_named(shub, name):
    with pytest.raises(AiSessionsError, match="cannot be empty or blank") as info:
        shub.session(name)
    assert "leave the name out" in info.value.hint
    s = shub.session("main")
    with pytest.raises(AiSessionsError, match="cannot be empty or blank"):
        s.fork(name=name)
    with pytest.raises(AiSessionsError, match="cannot be empty or blank"):
        shub.import_session(s.export("json"), name=name)
    assert [info.name for info in shub.sessions()] == ["main"]
    assert shub.session().name == "chat-1"  # no name at all still picks one


def test_using_a_hub_and_its_sessions_after_shutdown_is_a_clear_error(shub):
    from ai_sessions.errors import SessionClosed, StoreError

    s = shub.session("a", model="scripted:m")
    s.send("hi")
    shub.shutdown()
    assert s.status.value == "closed"
    with pytest.raises(SessionClosed):
        s.send("again")
    with pytest.raises(SessionClosed):
        s.configure(temperature=0.5)
    with pytest.raises(StoreError, match="closed"):
        shub.session("b")
    with pytest.raises(AiSessionsError, match="shut down"):
        shub.refresh_models()


def test_a_closed_session_object_cannot_overwrite_the_reopened_one(shub):
    from ai_sessions.errors import SessionClosed

    old = shub.session("a", model="scripted:m")
    old.send("hi")
    shub.close("a")
    new = shub.session("a")
    new.switch_model("scripted:other")
    with pytest.raises(SessionClosed):
        old.configure(temperature=0.1)
    with pytest.raises(SessionClosed):
        old.clear()
    assert len(new.messages) == 2
    assert shub.store.find_session(shub.scope, "a").model == "scripted:other"


@pytest.mark.parametrize("change", [
    lambda d: d.pop("session"),
    lambda d: d["session"].update(params="x"),
    lambda d: d["messages"][0].update(role="system"),
    lambda d: d["messages"][0].update(status="weird"),
    lambda d: d["messages"][0].pop("role"),
    lambda d: d["messages"][1].update(usage={"tokens": 3}),
    lambda d: d["model_switches"][0].pop("to"),
    lambda d: d.update(messages="hi"),
])
def test_importing_a_damaged_export_is_one_clear_error_and_creates_nothing(shub, change):
    s = shub.session("orig")
    s.send("hi")
    s.switch_model("scripted:other")
    data = json.loads(s.export("json"))
    change(data)
    with pytest.raises(AiSessionsError, match="export"):
        shub.import_session(json.dumps(data), name="copy")
    assert [info.name for info in shub.sessions()] == ["orig"]


@pytest.mark.parametrize("params", [{"temperature": 9}, {"temperature": "hot"}, {"max_tokens": -5},
                                    {"max_tokens": 1.5}, {"max_tokens": True}])
def test_out_of_range_parameters_are_refused_where_they_are_set(shub, params):
    with pytest.raises(AiSessionsError, match=r"temperature|max_tokens"):
        shub.session("new", **params)
    assert shub.sessions() == []
    s = shub.session("a")
    with pytest.raises(AiSessionsError, match=r"temperature|max_tokens"):
        s.configure(**params)
    assert s.params == {}


def test_threads_opening_one_session_at_once_share_one_object(shub):
    import concurrent.futures
    import threading

    record = shub.session("shared")
    shub.runtime.loop.call(shub._close_live, record)  # not live any more: the next calls load it from the store
    barrier = threading.Barrier(8)

    def open_it():
        barrier.wait()
        return shub.get("shared")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(lambda _: open_it(), range(8)))
    assert len({id(s) for s in sessions}) == 1


def test_sessions_of_a_renamed_notebook_can_be_found_and_copied_here(shub):
    old = shub.session("analysis", scope="/work/old-name.ipynb")
    old.send("hello")
    assert shub.sessions() == []  # this notebook (another path) has none
    [info] = shub.sessions(all_scopes=True)
    assert (info.name, info.scope, info.message_count) == ("analysis", "/work/old-name.ipynb", 2)
    copy = shub.import_session(shub.get(info.id).export("json"))
    assert copy.scope == shub.scope and copy.name == "analysis"
    assert [m.content for m in copy.messages] == [m.content for m in old.messages]
    assert [i.name for i in shub.sessions()] == ["analysis"]


# -- issue 9: sessions made at once, events on the hub thread --------------------------------------------
def test_sessions_made_at_the_same_moment_each_get_their_own_name(shub, make_hub):
    """Issue 9, item 3: eight threads (in two hubs on one store, like two kernels) asking for a new
    session at once get eight sessions, each with its own automatic name."""
    import concurrent.futures
    import threading

    other = make_hub(settings=shub.settings)
    barrier = threading.Barrier(8)

    def make(i):
        barrier.wait()
        return (shub if i % 2 else other).session(model="scripted:m")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(make, range(8)))
    names = sorted(s.name for s in sessions)
    assert len({s.id for s in sessions}) == 8
    assert names == sorted(f"chat-{i}" for i in range(1, 9))
    assert sorted(info.name for info in shub.sessions()) == names


def test_every_event_reaches_hub_on_callbacks_on_the_hub_thread(make_hub):
    """Callbacks run on the hub thread for every kind of event, also for the ones a cell triggers on the
    kernel's main thread (session created, updated, closed, deleted, model switched)."""
    import threading

    from ai_sessions import EventKind
    from ai_sessions.errors import AuthError, RateLimited
    from ai_sessions.settings import AutoSettings
    from tests.scripted import Script

    shub = make_hub(settings=Settings(defaults=Defaults(model="scripted:default"), providers=SCRIPTED,
                                      auto=AutoSettings(candidates=("scripted:down", "scripted:m"))))
    seen = []
    shub.on("*", lambda e: seen.append((e.kind, threading.current_thread())))
    hub_thread = shub.runtime.loop.call(threading.current_thread)
    s = shub.session("a", model="scripted:m")
    s.send("hi")
    SCRIPTS["m"] = Script(errors=[RateLimited("slow down", retry_after=0), AuthError("bad key")])
    with pytest.raises(AuthError):
        s.send("again")
    from ai_sessions.parts import ToolCallPart

    def lookup(key: str) -> str:
        """Look a key up."""
        return key.upper()

    s.tools.add(lookup, approval="ask")
    SCRIPTS["m"] = Script(calls=[[ToolCallPart("c1", "lookup", {"key": "k"})]])
    s.send("use the tool", approve=lambda call: True)
    from ai_sessions.errors import ProviderServerError

    SCRIPTS["down"] = Script(errors=[ProviderServerError("down", provider="scripted")] * 4)
    SCRIPTS["m"] = Script()
    s.switch_model("auto")
    s.send("pick a model")
    s.switch_model("scripted:n")
    s.map("{x}", ["a map is a job"], progress=False)
    s.configure(temperature=0.1)
    s.clear()
    s.close()
    shub.delete("a")
    shub.runtime.loop.call(lambda: None)  # callbacks queued before this one have run
    assert {kind for kind, _ in seen} == set(EventKind)
    assert [kind for kind, thread in seen if thread is not hub_thread] == []
