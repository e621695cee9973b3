"""Shared fixtures: every test runs with its own config dir, data dir and store, no keyring, and no
provider keys from the developer's environment."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_sessions.hub import SessionHub
from ai_sessions.keys import KeyStore
from ai_sessions.settings import Settings, load_settings

PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "AZURE_OPENAI_API_KEY",
                "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION", "JPY_SESSION_NAME", "AI_SESSIONS_SETTINGS")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point config and data dirs at a temp dir and hide the developer's keys and settings."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AI_SESSIONS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("AI_SESSIONS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AI_SESSIONS_NO_KEYRING", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt during the test, as in a kernel, whatever the caller set. An ignored
    SIGINT is inherited (``make test &`` from a script): a test that interrupts itself would then wait for an
    interrupt that never comes."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def make_hub(tmp_path: Path) -> Iterator[Callable[..., SessionHub]]:
    """Build hubs on the test's temp store (``make_hub(settings=..., scope=...)``); all shut down after."""
    hubs: list[SessionHub] = []

    def make(settings: Settings | None = None, **kwargs: Any) -> SessionHub:
        kwargs.setdefault("store_path", tmp_path / "data" / "sessions.db")
        kwargs.setdefault("keys", KeyStore(tmp_path / "config" / "keys.json", use_keyring=False))
        kwargs.setdefault("scope", "test-notebook.ipynb")
        hub = SessionHub(settings=settings if settings is not None else load_settings([]), **kwargs)
        hubs.append(hub)
        return hub

    yield make
    for hub in reversed(hubs):
        hub.shutdown()


@pytest.fixture
def hub(make_hub: Callable[..., SessionHub]) -> SessionHub:
    return make_hub()


@pytest.fixture
def memory_keyring() -> Iterator[dict[tuple[str, str], str]]:
    """An in-memory OS keyring backend for the test; yields its (service, user) -> password dict."""
    import keyring
    from keyring.backend import KeyringBackend

    store: dict[tuple[str, str], str] = {}

    class Memory(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            store.pop((service, username))

    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        yield store
    finally:
        keyring.set_keyring(previous)
