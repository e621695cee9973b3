"""The inspector issue on the real SDKs against the test servers: the timeline and metrics of a session with a
retry, a failure, a switch and a stop (exact rows, the same frame after a restart); model="auto" failing over
on a server error and on a bad key, its cool-down, every candidate failing; a one-off question."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from ai_sessions import EventKind, MessageStatus
from ai_sessions.errors import AuthError, NoUsableModel
from ai_sessions.settings import AutoSettings
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    anthropic_server,
    fast_retries,
    openai_server,
    provider_settings,
)

pd = pytest.importorskip("pandas")
OPENAI, ANTHROPIC = "openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"


@pytest.fixture
def settings():
    return dataclasses.replace(provider_settings(), auto=AutoSettings((OPENAI, ANTHROPIC), cooldown_s=300))


@pytest.fixture
def hub(make_hub, settings, fast_retries):  # noqa: F811
    return make_hub(settings=settings)


def stop_after_first_text(hub, session, prompt):
    got_text = threading.Event()
    off = hub.on(EventKind.RESPONSE_DELTA, lambda event: got_text.set())
    handle = session.submit(prompt)
    assert got_text.wait(10)
    off()
    assert session.cancel()
    return handle.result(10)


def cells(frame, columns):
    def cell(value):
        return None if value is pd.NA or value != value else value

    return [tuple(cell(v) for v in row) for row in frame[columns].itertuples(index=False)]


def test_timeline_and_metrics_of_a_session_on_the_real_sdks(hub, make_hub, settings, openai_server,  # noqa: F811
                                                            anthropic_server):  # noqa: F811
    s = hub.session("inspected", model=OPENAI)
    openai_server.fail("500")  # retried, then answered
    first = s.send("q1")
    openai_server.fail("401")
    with pytest.raises(AuthError):
        s.send("q2")
    s.switch_model(ANTHROPIC, reason="compare")
    anthropic_server.fail("hold")  # streams, then holds the connection open until we stop
    stopped = stop_after_first_text(hub, s, "q3")
    assert stopped.status is MessageStatus.STOPPED

    frame = s.timeline()
    assert cells(frame, ["kind", "message", "model", "status", "retries", "error_kind", "switch_reason",
                         "from_model"]) == [
        ("session.created", None, OPENAI, None, None, None, None, None),
        ("llm.request.started", 2, OPENAI, None, None, None, None, None),
        ("llm.request.retry", 2, OPENAI, None, 1, "provider_error", None, None),
        ("llm.response.completed", 2, OPENAI, "complete", 1, None, None, None),
        ("llm.request.started", 4, OPENAI, None, None, None, None, None),
        ("llm.response.failed", 4, OPENAI, "failed", 0, "auth", None, None),
        ("model.switched", 5, ANTHROPIC, None, None, None, "compare", OPENAI),
        ("llm.request.started", 6, ANTHROPIC, None, None, None, None, None),
        ("llm.response.completed", 6, ANTHROPIC, "stopped", 0, None, None, None),
    ]
    replies = [m for m in s.messages if m.role.value == "assistant"]
    ends = frame[frame["kind"].str.startswith("llm.response.")]
    assert ends["input_tokens"].tolist() == [r.usage.input_tokens if r.usage else pd.NA for r in replies]
    assert ends["output_tokens"].tolist() == [r.usage.output_tokens if r.usage else pd.NA for r in replies]
    assert ends["cost"].iloc[0] == pytest.approx(first.cost) and first.cost > 0  # gpt-4o-mini has a price
    assert ends["first_token_s"].notna().tolist() == [True, False, True]
    assert (ends["duration_s"] > 0).all()

    metrics = hub.metrics().set_index("model")
    assert metrics.loc[OPENAI, ["replies", "failed", "stopped"]].tolist() == [2, 1, 0]
    assert metrics.loc[ANTHROPIC, ["replies", "failed", "stopped"]].tolist() == [1, 0, 1]
    assert metrics.loc[OPENAI, "output_tokens"] == first.usage.output_tokens
    assert metrics.loc[OPENAI, "tokens_per_s"] > 0 and metrics.loc[OPENAI, "ttft_median_s"] > 0

    hub.shutdown()
    again = make_hub(settings=settings)
    pd.testing.assert_frame_equal(again.get("inspected").timeline(), frame)
    pd.testing.assert_frame_equal(again.metrics().set_index("model"), metrics)


def test_auto_fails_over_on_a_server_error_and_the_user_sees_one_reply(hub, openai_server,  # noqa: F811
                                                                        anthropic_server):  # noqa: F811
    widgets = pytest.importorskip("ai_sessions.widgets")
    s = hub.session("auto", model="auto")
    chat = widgets.ChatWidget(session=s)
    deltas: list[str] = []
    hub.on(EventKind.RESPONSE_DELTA, lambda event: deltas.append(event.payload["text"]))
    openai_server.fail("500", "500", "500", "500")  # every retry fails
    reply = s.send("hello there")
    assert (reply.model, reply.status) == (ANTHROPIC, MessageStatus.COMPLETE)
    assert reply.content == anthropic_server.streams()[-1].reply
    assert len(openai_server.streams()) == 4 and len(anthropic_server.streams()) == 1
    assert [(m.role.value, m.model) for m in s.messages] == [("user", None), ("assistant", ANTHROPIC)]
    assert "".join(deltas) == reply.content
    hub.runtime.loop.call(lambda: None)
    assert [(m["role"], m["model"]) for m in chat.messages] == [("user", None), ("assistant", ANTHROPIC)]
    assert [(w["from"], w["to"], w["reason"]) for w in chat.switches] == [
        ("auto", OPENAI, "auto: first candidate"), (OPENAI, ANTHROPIC, "auto: openai failed: server error (500)")]
    # the history reached Anthropic in its own format, as for any switch
    assert anthropic_server.streams()[-1].body["messages"] == [{"role": "user", "content": "hello there"}]
    frame = s.timeline()
    assert frame["kind"].tolist()[-4:] == ["llm.request.failed", "model.switched", "llm.request.started",
                                           "llm.response.completed"]
    assert hub.metrics().set_index("model").loc[OPENAI, ["replies", "failed"]].tolist() == [1, 1]

    # cool-down: the next reply does not ask OpenAI at all
    again = s.send("and now?")
    assert again.model == ANTHROPIC and len(openai_server.streams()) == 4
    assert s.model_switches[-1].to_model == ANTHROPIC and len(s.model_switches) == 2  # no change, no entry
    chat.close()


def test_auto_fails_over_at_once_on_a_bad_key(hub, openai_server, anthropic_server):  # noqa: F811
    s = hub.session("auto", model="auto")
    openai_server.fail("401")
    reply = s.send("hi")
    assert reply.model == ANTHROPIC and len(openai_server.streams()) == 1  # an auth error is not retried
    assert s.model_switches[-1].reason == "auto: openai failed: auth error"


def test_every_candidate_failing_is_one_error_naming_each(hub, openai_server, anthropic_server):  # noqa: F811
    s = hub.session("auto", model="auto")
    openai_server.fail("500", "500", "500", "500")
    anthropic_server.fail("503", "503", "503", "503")
    with pytest.raises(NoUsableModel) as caught:
        s.send("anyone?")
    assert str(caught.value).startswith("every candidate of model='auto' failed or was skipped: "
                                        f"{OPENAI}: failed: server error (500); "
                                        f"{ANTHROPIC}: failed: server error (503)")
    assert s.messages[-1].status is MessageStatus.FAILED and s.messages[-1].model == ANTHROPIC


def test_a_one_off_question_on_the_real_sdk(hub, openai_server):  # noqa: F811
    s = hub.session("talk", model=OPENAI)
    s.send("remember this")
    reply = hub.ask("just this", model=OPENAI)
    assert openai_server.streams()[-1].body["messages"] == [{"role": "user", "content": "just this"}]
    assert reply.cost is not None and hub.cost == pytest.approx(s.cost + reply.cost)
    assert [info.name for info in hub.sessions()] == ["talk"]
