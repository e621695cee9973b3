"""One-off questions (hub.ask) and the magics of the inspector issue (%ai_session ask / inspect / metrics /
model auto, %%ai_session --once), on the scripted provider."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ai_sessions import EventKind, MessageStatus
from ai_sessions.errors import AiSessionsError
from ai_sessions.oneoff import ASK_SESSION
from ai_sessions.settings import AutoSettings
from tests.scripted import SCRIPTS, Script
from tests.unit.test_magics import cell, ip, line, shub  # noqa: F401 - fixtures and helpers


def test_a_one_off_question_sends_no_history_and_joins_no_session(shub):  # noqa: F811
    s = shub.session("talk")
    s.send("earlier question")
    before = [m.id for m in s.messages]
    reply = shub.ask("what is 2 + 2?")
    assert reply.content == "you said: what is 2 + 2?" and reply.status is MessageStatus.COMPLETE
    assert [t.content for t in SCRIPTS["echo"].requests[-1].turns] == ["what is 2 + 2?"]  # no history
    assert [m.id for m in s.messages] == before
    assert [info.name for info in shub.sessions()] == ["talk"]  # the asks' own session is hidden
    again = shub.ask("and 3 + 3?")
    assert [t.content for t in SCRIPTS["echo"].requests[-1].turns] == ["and 3 + 3?"]  # nor earlier asks
    assert again.seq > reply.seq


def test_asks_count_in_the_hubs_usage_and_cost_after_a_restart(shub, make_hub):  # noqa: F811
    s = shub.session("talk")
    s.send("x")
    alone = shub.usage
    reply = shub.ask("y")
    assert shub.usage == alone + reply.usage
    settings = shub.settings
    shub.shutdown()
    again = make_hub(settings=settings)
    assert again.usage == alone + reply.usage
    assert [info.name for info in again.sessions()] == ["talk"]
    assert [m.content for m in again.store.load_messages(again.asks.id)] == ["y", "you said: y"]


def test_a_one_off_question_streams_and_stops_like_any_reply(shub):  # noqa: F811
    gate = asyncio.Event()
    started = threading.Event()
    SCRIPTS["echo"] = Script(chunks=["partial"], gate=gate, started=started)
    deltas: list[str] = []
    shub.on(EventKind.RESPONSE_DELTA, lambda e: deltas.append(e.payload["text"]))
    handle = shub.asks.submit("long one")
    assert started.wait(10)
    shub.runtime.loop.call(lambda: None)
    assert handle.cancel()
    stopped = handle.result(10)
    assert (stopped.status, stopped.content) == (MessageStatus.STOPPED, "partial")
    assert deltas == ["partial"]
    assert not shub.asks.cancel()  # nothing left in flight


def test_a_model_and_parameters_for_one_question(shub, make_hub):  # noqa: F811
    SCRIPTS["other"] = Script(chunks=["other model"])
    reply = shub.ask("hi", model="scripted:other", temperature=0.1, system_prompt="Be brief.")
    assert reply.model == "scripted:other"
    request = SCRIPTS["other"].requests[-1]
    assert (request.temperature, request.system) == (0.1, "Be brief.")
    with pytest.raises(AiSessionsError, match="unknown parameter"):
        shub.ask("hi", colour="red")
    with pytest.raises(AiSessionsError, match="non-empty"):
        shub.ask("  ")


def test_auto_works_for_one_off_questions(make_hub, monkeypatch):
    import ai_sessions.retry as retry
    from ai_sessions.errors import ProviderServerError
    from ai_sessions.providers.base import ProviderConfig
    from ai_sessions.settings import Defaults, Settings

    monkeypatch.setattr(retry, "_backoff", lambda state: 0.0)
    SCRIPTS.clear()
    settings = Settings(defaults=Defaults(model="scripted:a"),
                        providers={"scripted": ProviderConfig("scripted", "scripted")},
                        auto=AutoSettings(("scripted:a", "scripted:b")))
    hub = make_hub(settings=settings)
    SCRIPTS["a"] = Script(errors=[ProviderServerError("down", status_code=500)] * 4)
    assert hub.ask("x", model="auto").model == "scripted:b"  # failed over, with no switch log to write to


def test_the_asks_session_name_is_reserved(shub):  # noqa: F811
    with pytest.raises(AiSessionsError, match="reserved"):
        shub.session(ASK_SESSION)
    shub.ask("x")
    shub.delete(ASK_SESSION)  # and this is how to remove every one-off question
    assert shub.store.find_session(shub.scope, ASK_SESSION) is None


# -- magics ---------------------------------------------------------------------------------------------
def test_ask_line_magic_keeps_the_line_as_written(ip, shub, capsys):  # noqa: F811
    reply = line(ip, "ask What's a p-value, \"exactly\"?")
    assert reply == "you said: What's a p-value, \"exactly\"?"
    assert reply.message.status is MessageStatus.COMPLETE
    SCRIPTS["other"] = Script(chunks=["via other"])
    assert line(ip, "ask --model scripted:other -- --flags are text") == "via other"
    assert SCRIPTS["other"].requests[-1].turns[-1].content == "--flags are text"
    assert line(ip, "ask --model=scripted:other hi") == "via other"
    assert shub.sessions() == []


def test_ask_without_a_question_or_with_a_bad_model_is_one_line(ip):  # noqa: F811
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="`ask` needs a question"):
        line(ip, "ask")
    with pytest.raises(UsageError, match="unknown provider"):
        line(ip, "ask --model nope:x hi")


def test_once_cell_asks_outside_any_session(ip, shub):  # noqa: F811
    ip.user_ns["topic"] = "p-values"
    reply = cell(ip, "--once", "Explain {topic}.")
    assert reply == "you said: Explain p-values."
    assert shub.sessions() == []
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="takes no session name"):
        cell(ip, "mysession --once", "x")


def test_inspect_metrics_and_model_auto_magics(ip, shub, capsys):  # noqa: F811
    line(ip, "new m")
    cell(ip, "", "hello")
    frame = line(ip, "metrics")
    assert frame["model"].tolist() == ["scripted:echo"] and frame["replies"].tolist() == [1]
    widget = line(ip, "inspect")
    assert repr(widget) == "InspectorWidget(session='m')"
    assert [e["kind"] for e in widget.events][-2:] == ["llm.request.started", "llm.response.completed"]
    widget.close()
    line(ip, "model auto --reason try")
    assert "'m': scripted:echo -> auto from message 3" in capsys.readouterr().out
    assert shub.get("m").requested_model == "auto"
    assert cell(ip, "", "again") == "you said: again"
    assert shub.get("m").messages[-1].model == "scripted:echo"
