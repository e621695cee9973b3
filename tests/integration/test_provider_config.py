"""Configuring cloud providers: settings tables and the SDKs' own environment variables, named
OpenAI-compatible servers, Azure, availability reasons, model lists and their cache, lazy imports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from ai_sessions import AuthError, MessageStatus
from ai_sessions.settings import load_settings
from tests.servers.base import KEY, ProviderServer
from tests.servers.fixtures import (  # noqa: F401 - fixtures
    anthropic_server,
    fast_retries,
    gemini_server,
    openai_server,
    provider_settings,
)
from tests.servers.openai_wire import OpenAIProtocol


def test_import_ai_sessions_imports_no_provider_sdk():
    code = ("import sys, ai_sessions; ai_sessions.hub; "
            "from ai_sessions.providers import openai, anthropic, gemini, history, sdk_errors; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('openai', 'anthropic', 'google', 'httpx', 'httpx2', 'aiohttp', 'genai_prices')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_named_openai_compatible_server_from_settings_toml(make_hub, tmp_path, monkeypatch):
    server = ProviderServer(OpenAIProtocol(), key=None, model_names=["llama3.2"])
    try:
        path = tmp_path / "settings.toml"
        path.write_text(textwrap.dedent(f"""
            [defaults]
            model = "ollama:llama3.2"

            [providers.ollama]
            kind = "openai-compatible"
            base_url = "{server.url}/v1"
        """))
        hub = make_hub(settings=load_settings([path]))
        session = hub.session("s")
        reply = session.send("hello")
        assert reply.status is MessageStatus.COMPLETE and reply.model == "ollama:llama3.2"
        assert reply.content == server.streams()[0].reply
        assert reply.cost is None  # no price for a self-hosted model
        request = server.streams()[0]
        assert request.headers["authorization"] == "Bearer not-needed"
        assert request.body["max_tokens"] == 1024 and "max_completion_tokens" not in request.body
        models = hub.runtime.loop.run(hub.runtime.catalogue.instance("ollama").list_models())
        assert [m.full_name for m in models] == ["ollama:llama3.2"]
    finally:
        server.stop()


def test_compatible_server_key_from_its_own_variable(make_hub, monkeypatch):
    server = ProviderServer(OpenAIProtocol(), model_names=["qwen"])
    try:
        monkeypatch.setenv("VLLM_KEY", KEY)
        hub = make_hub(settings=provider_settings(
            vllm={"kind": "openai-compatible", "base_url": f"{server.url}/v1", "api_key_env": "VLLM_KEY"}))
        assert hub.session("s", model="vllm:qwen").send("hi").status is MessageStatus.COMPLETE
    finally:
        server.stop()


def test_compatible_server_without_base_url_is_unavailable_with_reason(make_hub):
    hub = make_hub(settings=provider_settings(lab={"kind": "openai-compatible"}))
    availability = hub.provider_availability("lab")
    assert not availability.ok and "base_url" in availability.reason


def test_base_url_from_settings_wins_over_environment(make_hub, openai_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    hub = make_hub(settings=provider_settings(openai={"base_url": f"{openai_server.url}/v1"}))
    assert hub.session("s", model="openai:gpt-4o-mini").send("hi").status is MessageStatus.COMPLETE
    assert openai_server.streams()[0].body["max_completion_tokens"] == 1024


def test_providers_without_keys_are_unavailable_with_reasons(make_hub):
    hub = make_hub(settings=provider_settings())
    for name, variable in [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY"),
                           ("gemini", "GEMINI_API_KEY"), ("azure", "AZURE_OPENAI_ENDPOINT")]:
        availability = hub.provider_availability(name)
        assert not availability.ok and variable in availability.reason
        assert all(not m.available and m.reason for m in hub.models() if m.provider == name)


@pytest.mark.parametrize(("provider", "module", "extra"), [
    ("openai", "openai", "openai"), ("anthropic", "anthropic", "anthropic"), ("gemini", "google.genai", "gemini")])
def test_provider_without_its_sdk_is_unavailable_and_names_the_extra(make_hub, monkeypatch, provider, module, extra):
    from ai_sessions.catalogue import FallbackWarning
    from ai_sessions.errors import MissingDependency
    from ai_sessions.providers.base import ChatRequest, ChatTurn

    monkeypatch.setitem(sys.modules, module, None)  # `import openai` fails, as in an install without the extra
    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(variable, KEY)  # a key alone is not enough
    hub = make_hub(settings=provider_settings(lab={"kind": "openai-compatible", "base_url": "http://127.0.0.1:9"}))
    install = f"pip install 'jupyter-ai-sessions[{extra}]'"
    offered = [m for m in hub.models() if m.provider == provider]
    assert offered and all(not m.available and m.reason.endswith(f"SDK is not installed: {install}")
                           for m in offered)
    if provider == "openai":  # every provider on the openai SDK
        assert not hub.provider_availability("lab").ok and install in hub.provider_availability("lab").reason
    with pytest.warns(FallbackWarning, match=re.escape(install)):  # a session asked for it says what to install
        hub.session("s", model=f"{provider}:{offered[0].name}")
    request = ChatRequest(offered[0].name, (ChatTurn("user", "hi"),))
    with pytest.raises(MissingDependency, match=re.escape(f"SDK is not installed — {install}")):
        hub.runtime.loop.run(hub.runtime.catalogue.instance(provider).stream_text(request, lambda text: None))
    monkeypatch.delitem(sys.modules, module)  # installed mid-session: usable without a restart
    assert hub.provider_availability(provider).ok


def test_gemini_accepts_google_api_key_and_the_v1beta_api(make_hub, gemini_server, monkeypatch):  # noqa: F811
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    hub = make_hub(settings=provider_settings(gemini={"api_version": "v1beta"}))
    assert hub.provider_availability("gemini").ok
    hub.session("s", model="gemini:gemini-2.5-flash").send("hi")
    assert gemini_server.streams()[0].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


def test_key_from_the_keys_file_is_used_and_never_stored(make_hub, openai_server, monkeypatch):  # noqa: F811
    monkeypatch.delenv("OPENAI_API_KEY")
    hub = make_hub(settings=provider_settings())
    assert not hub.provider_availability("openai").ok
    hub.keys.set("openai", KEY)
    assert hub.provider_availability("openai").ok
    session = hub.session("s", model="openai:gpt-4o-mini")
    assert session.send("hi").status is MessageStatus.COMPLETE
    assert openai_server.streams()[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY.encode() not in hub.store.path.read_bytes()


def test_azure_deployment_endpoint_and_api_version(make_hub, monkeypatch):
    server = ProviderServer(OpenAIProtocol(), model_names=["team-gpt"])
    try:
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        hub = make_hub(settings=provider_settings(azure={"endpoint": server.url, "api_version": "2024-10-21",
                                                         "deployments": ["team-gpt"], "timeout": 2}))
        assert [m.full_name for m in hub.models() if m.provider == "azure"] == ["azure:team-gpt"]
        reply = hub.session("s", model="azure:team-gpt").send("hi")
        assert reply.status is MessageStatus.COMPLETE
        request = server.streams()[0]
        assert request.path == "/openai/deployments/team-gpt/chat/completions?api-version=2024-10-21"
        assert request.headers["api-key"] == KEY
        hub.runtime.loop.run(hub.runtime.catalogue.instance("azure").test_connection())
    finally:
        server.stop()


def test_live_model_lists_are_cached_and_shown_without_network(make_hub, openai_server, anthropic_server,  # noqa: F811
                                                               gemini_server):  # noqa: F811
    hub = make_hub(settings=provider_settings())
    expected = {"openai": ["gpt-4o", "gpt-4o-mini"], "anthropic": ["claude-haiku-4-5", "claude-sonnet-4-6"],
                "gemini": ["gemini-2.5-flash", "gemini-2.5-pro"]}
    for name, server in [("openai", openai_server), ("anthropic", anthropic_server), ("gemini", gemini_server)]:
        provider = hub.runtime.catalogue.instance(name)
        curated = provider.curated_models()
        assert curated and all(m.short_name and len(m.short_name) <= len(m.name) for m in curated)
        models = hub.runtime.loop.run(provider.list_models())
        assert [m.name for m in models] == expected[name]  # embeddings filtered out of OpenAI's list
        hub.runtime.loop.run(provider.list_models())
        assert len([r for r in server.requests if r.method == "GET"]) == 1  # the second call hit the cache
        assert [m.name for m in provider.curated_models()] == expected[name]
    assert {m.short_name for m in hub.models() if m.provider == "anthropic"} == {"haiku-4-5", "sonnet-4-6"}


@pytest.mark.parametrize("name", ["openai", "anthropic", "gemini"])
def test_test_connection_reports_a_bad_key(make_hub, openai_server, anthropic_server, gemini_server,  # noqa: F811
                                           monkeypatch, name):
    hub = make_hub(settings=provider_settings())
    hub.keys.set(name, "sk-wrong-key-000000")
    with pytest.raises(AuthError) as info:
        hub.runtime.loop.run(hub.runtime.catalogue.instance(name).test_connection())
    assert "sk-wrong-key-000000" not in str(info.value)
    hub.keys.delete(name)
    hub.runtime.loop.run(hub.runtime.catalogue.instance(name).test_connection())  # the env key works: client remade


def test_connection_refused_is_a_connection_error(make_hub, fast_retries, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    hub = make_hub(settings=provider_settings(openai={"base_url": "http://127.0.0.1:9/v1"}))
    session = hub.session("s", model="openai:gpt-4o-mini")
    with pytest.raises(Exception) as info:
        session.send("hi")
    assert getattr(info.value, "kind", None) == "connection"
    assert "127.0.0.1:9" in str(info.value)
    assert session.messages[-1].status is MessageStatus.FAILED


FIRST_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


@pytest.mark.parametrize("name", sorted(FIRST_MODELS))
def test_the_client_is_made_and_warmed_off_the_hub_loop(make_hub, openai_server, anthropic_server,  # noqa: F811
                                                       gemini_server, monkeypatch, name):  # noqa: F811
    # a new client loads the CA certificates and imports the SDK's HTTP stack (50-150 ms): on the hub loop
    # it would stall every other session streaming there
    from ai_sessions.providers import provider_class

    cls = provider_class(name)
    calls: list[tuple[str, str]] = []
    make, warm = cls.make_client, cls.warm
    monkeypatch.setattr(cls, "make_client", lambda self, key: calls.append(("make", threading.current_thread().name))
                        or make(self, key))
    monkeypatch.setattr(cls, "warm", lambda self, client: calls.append(("warm", threading.current_thread().name))
                        or warm(self, client))
    hub = make_hub(settings=provider_settings())
    session = hub.session("s", model=f"{name}:{FIRST_MODELS[name]}")
    assert session.send("hi").status is MessageStatus.COMPLETE
    assert session.send("again").status is MessageStatus.COMPLETE
    assert [what for what, _ in calls] == ["make", "warm"]  # one client, kept for the second reply
    assert all(thread != "ai_sessions-hub" for _, thread in calls), calls


def test_a_warm_up_that_fails_does_not_fail_the_reply(make_hub, openai_server, monkeypatch):  # noqa: F811
    from ai_sessions.providers.openai import OpenAIProvider

    def broken(self, client):
        raise AttributeError("the SDK moved something")

    monkeypatch.setattr(OpenAIProvider, "warm", broken)
    hub = make_hub(settings=provider_settings())
    reply = hub.session("s", model="openai:gpt-4o-mini").send("hi")
    assert reply.status is MessageStatus.COMPLETE and reply.content == openai_server.streams()[0].reply
