"""A model from a Python function (issue 13): ``hub.register_model(name, fn)`` for functions, generators,
async generators and coroutines; it streams, stops, fails clearly and persists like any provider."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ai_sessions import EventKind, MessageStatus
from ai_sessions.catalogue import FallbackWarning
from ai_sessions.errors import AiSessionsError, ProviderError
from ai_sessions.settings import Defaults, Settings


@pytest.fixture
def phub(make_hub):
    return make_hub(settings=Settings(defaults=Defaults(model="local:smollm2")))


def test_a_function_answers_and_gets_the_history_and_its_parameters(phub):
    seen = {}

    def echo(messages, temperature=None):
        seen["messages"], seen["temperature"] = messages, temperature
        return "echo: " + messages[-1]["content"]

    assert phub.register_model("echo", echo) == "python:echo"
    s = phub.session("bot", model="python:echo", system_prompt="be kind", temperature=0.3)
    s.send("hello")
    reply = s.send("again")
    assert reply.content == "echo: again" and reply.model == "python:echo"
    assert reply.status is MessageStatus.COMPLETE
    assert seen["messages"] == [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hello"},
                                {"role": "assistant", "content": "echo: hello"}, {"role": "user", "content": "again"}]
    assert seen["temperature"] == 0.3
    stored = phub.store.load_messages(s.id)
    assert [m.content for m in stored][-1] == "echo: again"


def test_generators_async_generators_and_coroutines_stream(phub):
    def words(messages, **params):
        assert set(params) == {"temperature", "max_tokens", "model"}
        yield from ["one ", "two ", "three"]

    async def ticks(messages):
        for i in range(3):
            await asyncio.sleep(0)
            yield f"t{i}"

    async def later(messages):
        await asyncio.sleep(0)
        return "done"

    for name, fn in (("words", words), ("ticks", ticks), ("later", later)):
        phub.register_model(name, fn)
    deltas: list[str] = []
    phub.on(EventKind.RESPONSE_DELTA, lambda e: deltas.append(e.payload["text"]))
    s = phub.session("bot", model="python:words")
    assert s.send("go").content == "one two three"
    s.switch_model("python:ticks")
    assert s.send("go").content == "t0t1t2"
    s.switch_model("python:later")
    assert s.send("go").content == "done"
    assert "".join(deltas) == "one two threet0t1t2done"


def test_the_selector_lists_registered_functions_under_python(phub):
    assert not [m for m in phub.models() if m.provider == "python"]
    phub.register_model("bot", lambda messages: "hi")
    [info] = [m for m in phub.models() if m.provider == "python"]
    assert (info.full_name, info.available) == ("python:bot", True)
    assert "python" in phub.provider_names()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_stop_ends_a_python_model_stopped_with_its_text(phub, kind):
    started, release = threading.Event(), threading.Event()

    def slow(messages):
        yield "partial "
        started.set()
        release.wait(10)  # a stop is seen at the next piece
        yield "never"

    async def aslow(messages):
        yield "partial "
        started.set()
        await asyncio.sleep(30)  # a stop cancels it
        yield "never"

    phub.register_model("slow", slow if kind == "sync" else aslow)
    s = phub.session("bot", model="python:slow")
    handle = s.submit("go")
    assert started.wait(10)
    assert handle.cancel(wait=10)
    release.set()
    reply = handle.result(10)
    assert reply.status is MessageStatus.STOPPED and reply.content == "partial "


def test_a_function_that_raises_fails_the_reply_with_its_error(phub):
    def broken(messages):
        raise ValueError("no model here")

    phub.register_model("broken", broken)
    s = phub.session("bot", model="python:broken")
    with pytest.raises(ProviderError, match="raised ValueError: no model here"):
        s.send("go")
    assert s.messages[-1].status is MessageStatus.FAILED


def test_bad_registrations_are_clear_errors(phub):
    with pytest.raises(AiSessionsError, match="bad model name"):
        phub.register_model("has space", lambda m: "")
    with pytest.raises(AiSessionsError, match="must be a function"):
        phub.register_model("x", "not callable")  # type: ignore[arg-type]


def test_after_a_restart_the_session_falls_back_until_the_function_is_registered_again(phub, make_hub):
    phub.register_model("bot", lambda messages: "hi")
    phub.session("bot", model="python:bot").send("q")
    phub.shutdown()
    again = make_hub(settings=phub.settings)
    with pytest.warns(FallbackWarning, match="register_model"):
        s = again.session("bot")
    assert s.fallback_reason is not None and "register_model('bot'" in s.fallback_reason
    assert s.messages[-1].content == "hi"
    again.register_model("bot", lambda messages: "back")
    assert s.fallback_reason is None and s.send("q").content == "back"
