"""Session behaviour on the scripted provider: ordering, isolation, stop, failure, retry, switching."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from ai_sessions import EventKind, MessageStatus, Role, SessionBusy
from ai_sessions.errors import AuthError, RateLimited
from ai_sessions.parts import as_parts
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Settings
from tests.scripted import SCRIPTS, Script


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    settings = Settings(providers={"scripted": ProviderConfig("scripted", "scripted")})
    return make_hub(settings=settings)


def test_send_stores_user_and_reply_with_model_and_usage(shub):
    s = shub.session("a", model="scripted:m1")
    reply = s.send("hi")
    assert reply.content == "Hello world"
    assert reply.status is MessageStatus.COMPLETE
    assert reply.model == "scripted:m1"
    assert reply.usage is not None and reply.usage.output_tokens == 2
    assert [m.role for m in s.messages] == [Role.USER, Role.ASSISTANT]
    assert [m.seq for m in s.messages] == [1, 2]
    stored = shub.store.load_messages(s.id)
    assert [(m.content, m.status) for m in stored] == [("hi", MessageStatus.COMPLETE),
                                                         ("Hello world", MessageStatus.COMPLETE)]


def test_history_is_sent_with_each_request(shub):
    SCRIPTS["m1"] = Script(chunks=["turns={turns}"])
    s = shub.session("a", model="scripted:m1", system_prompt="be brief")
    s.send("one")
    reply = s.send("two")
    assert reply.content == "turns=3"
    request = SCRIPTS["m1"].requests[-1]
    assert [(t.role, t.content) for t in request.turns] == [("user", "one"), ("assistant", "turns=1"),
                                                            ("user", "two")]
    assert request.system == "be brief"


def test_twenty_sessions_stream_at_once_without_mixing(shub):
    SCRIPTS["echo"] = Script(chunks=["<", "{last}", ">"] * 5)
    sessions = [shub.session(f"s{i}", model="scripted:echo", temperature=i / 20) for i in range(20)]
    handles = [s.submit(f"prompt-{i}") for i, s in enumerate(sessions)]
    replies = [h.result(30) for h in handles]
    for i, (s, reply) in enumerate(zip(sessions, replies, strict=True)):
        assert reply.content == f"<prompt-{i}>" * 5
        assert [m.content for m in s.messages] == [f"prompt-{i}", f"<prompt-{i}>" * 5]
    temperatures = sorted(r.temperature for r in SCRIPTS["echo"].requests)
    assert temperatures == [i / 20 for i in range(20)]
    assert all(len(r.turns) == 1 for r in SCRIPTS["echo"].requests)


def test_cancel_keeps_partial_text_as_stopped(shub):
    gate = asyncio.Event()  # never set: the reply waits until stopped
    started = threading.Event()
    SCRIPTS["slow"] = Script(chunks=["partial", " text"], gate=gate, started=started)
    s = shub.session("a", model="scripted:slow")
    seen = threading.Event()
    shub.on(EventKind.RESPONSE_DELTA, lambda e: e.payload["text"] == " text" and seen.set())
    handle = s.submit("go")
    assert seen.wait(10)
    assert s.cancel() is True
    reply = handle.result(10)
    assert reply.status is MessageStatus.STOPPED
    assert reply.content == "partial text"
    assert shub.store.load_messages(s.id)[-1].status is MessageStatus.STOPPED
    # the session is usable again
    SCRIPTS["slow"].gate = None
    assert s.send("again").status is MessageStatus.COMPLETE


def test_second_send_while_streaming_is_refused(shub):
    gate = asyncio.Event()
    started = threading.Event()
    SCRIPTS["slow"] = Script(gate=gate, started=started)
    s = shub.session("a", model="scripted:slow")
    handle = s.submit("first")
    assert started.wait(10)
    with pytest.raises(SessionBusy, match="already replying"):
        s.send("second")
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    assert handle.result(10).status is MessageStatus.COMPLETE
    assert [m.content for m in s.messages if m.role is Role.USER] == ["first"]


def test_failure_keeps_user_message_and_records_error_then_regenerate_works(shub):
    SCRIPTS["m"] = Script(errors=[AuthError("bad key", hint="set OPENAI_API_KEY")])
    s = shub.session("a", model="scripted:m")
    with pytest.raises(AuthError):
        s.send("question")
    user, reply = s.messages
    assert user.content == "question"
    assert reply.status is MessageStatus.FAILED and reply.error_kind == "auth"
    assert "set OPENAI_API_KEY" in reply.error
    again = s.regenerate()
    assert again.status is MessageStatus.COMPLETE
    assert [m.role for m in s.messages] == [Role.USER, Role.ASSISTANT]
    assert len(shub.store.load_messages(s.id)) == 2


def test_transient_errors_are_retried_before_first_token(shub):
    SCRIPTS["m"] = Script(errors=[RateLimited("slow down", retry_after=0), RateLimited("again", retry_after=0)])
    s = shub.session("a", model="scripted:m")
    assert s.send("hi").content == "Hello world"
    assert len(SCRIPTS["m"].requests) == 3


def test_stream_without_end_marker_is_failed_incomplete(shub):
    SCRIPTS["m"] = Script(chunks=["half"], finish=False)
    s = shub.session("a", model="scripted:m")
    with pytest.raises(Exception, match="ended before"):
        s.send("hi")
    reply = s.messages[-1]
    assert reply.status is MessageStatus.FAILED and reply.content == "half"


def test_the_first_text_is_emitted_at_once_not_at_the_end_of_its_burst(shub):
    # a fast stream hands hundreds of pieces per network read; the reply's first one must not wait for them
    deltas: list[str] = []
    seen: list[list[str]] = []
    shub.on(EventKind.RESPONSE_DELTA, lambda e: deltas.append(e.payload["text"]))
    SCRIPTS["m1"] = Script(chunks=["a", "b", "c"], burst=True, after_piece=lambda i: seen.append(list(deltas)))
    reply = shub.session("a", model="scripted:m1").send("go")
    assert seen == [["a"], ["a"], ["a"]]  # the first piece went out while the provider was still reading
    assert deltas == ["a", "bc"]  # the rest of the burst as one event
    assert reply.content == "abc"


def test_switch_model_keeps_history_and_logs_switch(shub):
    SCRIPTS["b"] = Script(chunks=["turns={turns}"])
    s = shub.session("a", model="scripted:a")
    s.send("one")
    switch = s.switch_model("scripted:b", reason="compare")
    reply = s.send("two")
    assert reply.model == "scripted:b" and reply.content == "turns=3"
    assert s.messages[1].model == "scripted:a"
    assert (switch.from_model, switch.to_model, switch.message_index, switch.reason) == (
        "scripted:a", "scripted:b", 2, "compare")
    assert shub.store.load_switches(s.id) == [switch]


def test_async_stream_yields_deltas(shub):
    SCRIPTS["m"] = Script(chunks=["a", "b", "c"])
    s = shub.session("a", model="scripted:m")

    async def collect():
        return [text async for text in s.stream("hi")]

    # a loop of its own, in a thread: like a notebook's loop, and immune to any loop the test process runs
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, collect()).result(30) == ["a", "b", "c"]
    assert s.messages[-1].content == "abc"


def test_events_carry_session_id_and_failing_callback_does_not_break(shub, caplog):
    s = shub.session("a", model="scripted:m")
    kinds: list[tuple[str, str]] = []

    def broken(event):
        raise RuntimeError("callback bug")

    shub.on("*", broken)
    shub.on("*", lambda e: kinds.append((e.kind.value, e.session_id)))
    s.send("hi")
    assert {sid for _, sid in kinds} == {s.id}
    names = [k for k, _ in kinds]
    for expected in ("message.user", "llm.request.started", "llm.response.delta", "llm.response.completed",
                     "message.assistant"):
        assert expected in names
    assert names.index("message.user") < names.index("llm.request.started") < names.index("message.assistant")
    assert "callback bug" in caplog.text
    assert s.messages[-1].status is MessageStatus.COMPLETE


def test_unknown_event_kind_is_a_clear_error(shub):
    with pytest.raises(ValueError, match="unknown event kind"):
        shub.on("message.nope", print)


@pytest.mark.usefixtures("sigint_raises")
def test_interrupt_during_send_stops_reply_and_propagates(shub):
    import os
    import signal

    gate = asyncio.Event()
    SCRIPTS["slow"] = Script(chunks=["kept"], gate=gate)
    s = shub.session("a", model="scripted:slow")
    shub.on(EventKind.RESPONSE_DELTA, lambda e: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        s.send("go")
    reply = s.messages[-1]
    assert reply.status is MessageStatus.STOPPED and reply.content == "kept"


def _block_store(hub):
    """Hold the store thread until the returned ``release`` event is set (writes queue behind it)."""
    blocked, release = threading.Event(), threading.Event()

    def hold() -> None:
        blocked.set()
        release.wait(30)

    hub.store.defer(hold)
    assert blocked.wait(10)
    return release


def test_cancel_right_after_submit_stops_before_the_provider_is_called(shub):
    s = shub.session("a", model="scripted:never")
    release = _block_store(shub)  # the reply cannot get past storing the prompt until the stop has landed
    handle = s.submit("question")
    assert s.cancel(wait=0) is True
    release.set()
    reply = handle.result(10)
    assert reply.status is MessageStatus.STOPPED and reply.content == ""
    assert "never" not in SCRIPTS  # the provider was not asked
    stored = shub.store.load_messages(s.id)
    assert [(m.role, m.content, m.status) for m in stored] == [
        (Role.USER, "question", MessageStatus.COMPLETE), (Role.ASSISTANT, "", MessageStatus.STOPPED)]
    assert s.messages == tuple(stored)


def test_interrupt_while_the_user_message_is_stored_keeps_it(shub):
    s = shub.session("a", model="scripted:m")
    finished = threading.Event()
    shub.on(EventKind.MESSAGE_ASSISTANT, lambda e: finished.set())
    release = _block_store(shub)
    reply = s._prepare(as_parts("question"), {})
    future = shub.runtime.loop.submit(s._run(reply))  # what send() does; a kernel interrupt cancels it
    future.cancel()
    shub.runtime.loop.run(asyncio.sleep(0))  # the cancellation has reached the reply
    release.set()
    assert finished.wait(10)
    messages = shub.store.load_messages(s.id)
    assert [(m.role, m.content, m.status) for m in messages] == [
        (Role.USER, "question", MessageStatus.COMPLETE), (Role.ASSISTANT, "", MessageStatus.STOPPED)]


def test_cancel_while_the_complete_reply_is_stored_keeps_it_complete(shub, monkeypatch):
    gate = asyncio.Event()
    SCRIPTS["m"] = Script(chunks=["Hello", " world"], gate=gate)
    s = shub.session("a", model="scripted:m")
    store = shub.store
    queued = threading.Event()
    real_defer = store.defer

    def defer(fn, *args):
        if args and getattr(args[0], "role", None) is Role.ASSISTANT and args[0].status is MessageStatus.COMPLETE:
            queued.set()
        return real_defer(fn, *args)

    monkeypatch.setattr(store, "defer", defer)
    last_delta = threading.Event()
    shub.on(EventKind.RESPONSE_DELTA, lambda e: e.payload["text"] == " world" and last_delta.set())
    handle = s.submit("hi")
    assert last_delta.wait(10)
    release = _block_store(shub)
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    assert queued.wait(10)  # the final state waits behind the blocked store
    s.cancel(wait=0)
    shub.runtime.loop.run(asyncio.sleep(0))  # the stop request has run
    release.set()
    reply = handle.result(10)
    assert reply.status is MessageStatus.COMPLETE and reply.content == "Hello world"
    assert store.load_messages(s.id)[-1].status is MessageStatus.COMPLETE


def test_waiting_for_a_reply_inside_an_event_callback_is_a_clear_error_not_a_deadlock(shub):
    from ai_sessions.errors import AiSessionsError

    s = shub.session("a", model="scripted:m")
    other = shub.session("b", model="scripted:m")
    errors: list[Exception] = []

    def follow_up(event):
        if event.session_id != s.id:
            return
        for call in (lambda: other.send("more"), lambda: other.submit("more").result(5),
                     lambda: other.map("{x}", [1], progress=False)):
            try:
                call()
            except Exception as exc:
                errors.append(exc)

    shub.on(EventKind.MESSAGE_ASSISTANT, follow_up)
    assert s.send("hi").status is MessageStatus.COMPLETE
    assert [type(e) for e in errors] == [AiSessionsError] * 3
    assert all("event callback" in str(e) and "submit" in str(e) for e in errors)


def test_clear_inside_an_event_callback_while_streaming_is_refused_cleanly(shub):
    from ai_sessions.errors import SessionBusy as Busy

    SCRIPTS["m"] = Script(chunks=["a", "b"])
    s = shub.session("a", model="scripted:m")
    errors: list[Exception] = []

    def clear_now(event):
        if event.payload["text"] == "a":
            try:
                s.clear()
            except Exception as exc:
                errors.append(exc)

    shub.on(EventKind.RESPONSE_DELTA, clear_now)
    reply = s.send("hi")
    assert [type(e) for e in errors] == [Busy]
    assert reply.status is MessageStatus.COMPLETE and reply.content == "ab"
    assert [m.content for m in shub.store.load_messages(s.id)] == ["hi", "ab"]


def test_a_listener_of_the_final_event_can_send_again_at_once(shub):
    s = shub.session("a", model="scripted:m")
    handles = []

    def follow_up(event):
        if not handles:
            handles.append(s.submit("and then?"))

    shub.on(EventKind.MESSAGE_ASSISTANT, follow_up)
    s.send("hi")
    assert handles[0].result(10).status is MessageStatus.COMPLETE
    assert [m.content for m in s.messages] == ["hi", "Hello world", "and then?", "Hello world"]


@pytest.mark.parametrize("prompt", [123, None, ["a"], ""])
def test_a_prompt_that_is_not_text_is_refused_before_anything_is_stored(shub, prompt):
    from ai_sessions.errors import AiSessionsError

    s = shub.session("a", model="scripted:m")
    with pytest.raises(AiSessionsError, match="prompt"):
        s.send(prompt)
    with pytest.raises(AiSessionsError, match="prompt"):
        s.submit(prompt)
    assert s.messages == () and s.status.value == "idle"


# -- issue 9: stops, handles and parameters ---------------------------------------------------------------
def test_a_stop_at_any_moment_ends_the_reply_stopped_and_result_returns_it(shub):
    """Issue 9, item 1 (its own repro): a stop that lands anywhere — before the request, while the prompt
    is stored, while streaming, after the stream ended — leaves no reply ``streaming`` and no bare
    CancelledError; an accepted stop always means ``stopped``."""
    import random
    import time

    SCRIPTS["m"] = Script(chunks=["word "] * 30)
    s = shub.session("a", model="scripted:m")
    rng = random.Random(9)
    outcomes = []
    for i in range(200):
        handle = s.submit(f"q{i}")
        time.sleep(rng.uniform(0, 0.006))
        stopped = s.cancel()
        reply = handle.result(30)  # a Message, whenever the stop landed
        assert reply.status is (MessageStatus.STOPPED if stopped else MessageStatus.COMPLETE), (i, stopped)
        assert s.status.value == "idle" and s.messages[-1] == reply
        stored = shub.store.load_messages(s.id)[-2:]
        assert [(m.content, m.status) for m in stored] == [(f"q{i}", MessageStatus.COMPLETE),
                                                           (reply.content, reply.status)]
        outcomes.append(reply.status)
    assert MessageStatus.STOPPED in outcomes
    assert not [m for m in shub.store.load_messages(s.id) if m.status is MessageStatus.STREAMING]


def test_a_handle_stops_only_its_own_reply(shub):
    """Issue 9, item 2: cancelling a finished handle does nothing, even while a newer reply streams."""
    s = shub.session("a", model="scripted:m")
    first = s.submit("one")
    assert first.result(10).status is MessageStatus.COMPLETE
    gate, started = asyncio.Event(), threading.Event()
    SCRIPTS["m"] = Script(chunks=["second"], gate=gate, started=started)
    second = s.submit("two")
    assert started.wait(10)
    assert not first.cancel()
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    reply = second.result(10)
    assert (reply.status, reply.content) == (MessageStatus.COMPLETE, "second")
    assert shub.store.load_messages(s.id)[-1].status is MessageStatus.COMPLETE


def test_a_handle_stops_its_own_reply(shub):
    gate, started = asyncio.Event(), threading.Event()  # the gate is never opened: only a stop ends it
    SCRIPTS["m"] = Script(chunks=["partial"], gate=gate, started=started)
    s = shub.session("a", model="scripted:m")
    handle = s.submit("go")
    assert started.wait(10)
    assert handle.cancel()
    reply = handle.result(10)
    assert (reply.status, reply.content) == (MessageStatus.STOPPED, "partial")
    assert not handle.cancel()  # finished: nothing to stop


def _call_with(s, call: str, params: dict):
    """Run one of the reply-making calls with ``params``, as a user would."""
    if call == "send":
        return s.send("hi", **params)
    if call == "submit":
        return s.submit("hi", **params).result(10)
    if call == "regenerate":
        return s.regenerate(**params)
    if call == "stream":
        async def collect():
            return [text async for text in s.stream("hi", **params)]

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, collect()).result(30)
    if call == "map":
        return s.map("{x}", ["a"], progress=False, **params)
    if call == "submit_map":
        return s.submit_map("{x}", ["a"], **params).result(10)
    raise AssertionError(call)


BAD_PARAMS = [
    ({"temperature": float("nan")}, "temperature"),
    ({"temperature": float("inf")}, "temperature"),
    ({"temperature": -0.1}, "temperature"),
    ({"temperature": 2.5}, "temperature"),
    ({"temperature": "0.2"}, "temperature"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": -3}, "max_tokens"),
    ({"max_tokens": 10**9}, "max_tokens"),
    ({"max_tokens": 100.0}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"temprature": 0.2}, "temprature"),
    ({"top_p": 0.9}, "top_p"),
    ({"extra": "top_p=0.9"}, "extra"),
    ({"system_prompt": 42}, "system_prompt"),
]


@pytest.mark.parametrize("call", ["send", "submit", "stream", "regenerate", "map", "submit_map"])
@pytest.mark.parametrize(("params", "named"), BAD_PARAMS, ids=[next(iter(p)) + "=" + repr(v) for p, v in
                                                                ((p, next(iter(p.values()))) for p, _ in BAD_PARAMS)])
def test_bad_parameters_are_refused_by_name_before_anything_is_sent_or_stored(shub, call, params, named):
    """Issue 9, item 11: checked like settings, on every call that makes a reply."""
    from ai_sessions.errors import AiSessionsError, ProviderError

    s = shub.session("a", model="scripted:m")
    s.send("first")
    requests = len(SCRIPTS["m"].requests)
    before = shub.store.load_messages(s.id)
    with pytest.raises(AiSessionsError, match=named) as info:
        _call_with(s, call, params)
    assert not isinstance(info.value, ProviderError)
    assert len(SCRIPTS["m"].requests) == requests  # the provider was not asked
    assert shub.store.load_messages(s.id) == before and list(s.messages) == before


def test_provider_specific_fields_go_in_extra(shub):
    s = shub.session("a", model="scripted:m")
    s.send("hi", extra={"top_p": 0.5, "seed": 7}, temperature=0.3, max_tokens=64)
    request = SCRIPTS["m"].requests[-1]
    assert dict(request.extra) == {"top_p": 0.5, "seed": 7}
    assert (request.temperature, request.max_tokens) == (0.3, 64)
    s.send("again")
    assert dict(SCRIPTS["m"].requests[-1].extra) == {}  # for that reply only


@pytest.mark.parametrize("part", ["text", "file name", "tool result"])
def test_a_lone_surrogate_in_a_prompts_parts_is_refused_naming_it(shub, part):
    """Issue 9, item 12, for prompts given as parts: refused before anything is stored."""
    from ai_sessions.errors import AiSessionsError
    from ai_sessions.parts import FilePart, TextPart, ToolResultPart

    bad = "caf\udce9"
    prompt = {"text": [TextPart(bad)],
              "file name": [TextPart("see"), FilePart("text/plain", b"data", name=f"{bad}.txt")],
              "tool result": [ToolResultPart("call_1", (TextPart(bad),))]}[part]
    s = shub.session("a", model="scripted:m")
    with pytest.raises(AiSessionsError, match=r"the prompt: .*surrogate"):
        s.send(prompt)
    assert s.messages == () and shub.store.load_messages(s.id) == [] and "m" not in SCRIPTS
