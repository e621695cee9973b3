"""Keys: lookup order, file mode, masking, and that a key never leaks anywhere (canary)."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys

import pytest

from ai_sessions.errors import AiSessionsError
from ai_sessions.keys import KeyStore, mask

CANARY = "sk-canary-3f9d2a7c1b8e4d6f0a5c9b2e7d1f4a8c"


def test_file_then_env_order_and_masked_listing(tmp_path, monkeypatch):
    keys = KeyStore(tmp_path / "keys.json", use_keyring=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-000000000000")
    assert keys.get("openai", env="OPENAI_API_KEY") == "sk-from-env-000000000000"
    assert keys.source("openai", env="OPENAI_API_KEY").source == "env:OPENAI_API_KEY"
    keys.set("openai", CANARY)
    assert keys.get("openai", env="OPENAI_API_KEY") == CANARY
    info = keys.source("openai", env="OPENAI_API_KEY")
    assert info.source == "file" and CANARY not in info.masked and info.masked.endswith(CANARY[-4:])
    assert CANARY not in repr(info) and CANARY not in repr(keys)
    assert keys.delete("openai") is True
    assert keys.get("openai", env="OPENAI_API_KEY") == "sk-from-env-000000000000"


def test_keys_file_is_private(tmp_path):
    keys = KeyStore(tmp_path / "cfg" / "keys.json", use_keyring=False)
    keys.set("anthropic", CANARY)
    mode = stat.S_IMODE(os.stat(tmp_path / "cfg" / "keys.json").st_mode)
    assert mode == 0o600
    assert json.loads((tmp_path / "cfg" / "keys.json").read_text()) == {"anthropic": CANARY}


def test_bad_keys_file_is_a_clear_error_without_content(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"openai": "' + CANARY)
    with pytest.raises(AiSessionsError) as info:
        KeyStore(path, use_keyring=False).get("openai")
    assert "not valid JSON" in str(info.value) and CANARY not in str(info.value)


def test_empty_key_refused(tmp_path):
    with pytest.raises(AiSessionsError, match="empty key"):
        KeyStore(tmp_path / "k.json", use_keyring=False).set("openai", "  ")


def test_mask_never_shows_short_secrets():
    assert mask("abc") == "………"
    assert mask(CANARY) == "sk-…4a8c"


def test_canary_key_never_reaches_store_events_logs_or_errors(make_hub, tmp_path, caplog):
    """A session whose provider has a key and fails must not leak the key anywhere."""
    from ai_sessions.providers.base import ProviderConfig
    from ai_sessions.settings import Settings

    caplog.set_level(logging.DEBUG)
    settings = Settings(providers={"dead": ProviderConfig("dead", "openai-compatible",
                                                          {"base_url": "http://127.0.0.1:9/v1"})})
    hub = make_hub(settings=settings)
    hub.keys.set("dead", CANARY)
    events = []
    hub.on("*", events.append)
    s = hub.session("leak-check", model="dead:some-model")
    with pytest.raises(Exception) as info:
        s.send("hello")
    text = "".join([str(info.value), repr(info.value), repr(s), repr(hub), caplog.text,
                    s.export("json"), s.export("markdown"), repr(events), repr(hub.sessions())])
    assert CANARY not in text
    hub.shutdown()
    for path in (tmp_path / "data").iterdir():
        assert CANARY.encode() not in path.read_bytes(), path



def test_keyring_is_used_when_a_real_backend_exists(tmp_path, memory_keyring):
    keys = KeyStore(tmp_path / "keys.json", use_keyring=True)
    assert keys.set("gemini", CANARY, backend="keyring") == "keyring"
    assert memory_keyring == {("ai_sessions", "gemini"): CANARY}
    assert not (tmp_path / "keys.json").exists()
    assert keys.get("gemini") == CANARY and keys.source("gemini").source == "keyring"
    keys.delete("gemini")
    assert keys.get("gemini") is None


def test_keyring_backend_refused_when_unusable(tmp_path):
    keys = KeyStore(tmp_path / "keys.json", use_keyring=False)
    with pytest.raises(AiSessionsError, match="no usable OS keyring"):
        keys.set("openai", CANARY, backend="keyring")


def test_without_the_keyring_package_keys_still_work_and_keyring_use_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "keyring", None)  # `import keyring` fails, as in the base install
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    keys = KeyStore(tmp_path / "keys.json", use_keyring=True)
    assert keys.get("openai", env="OPENAI_API_KEY") == CANARY
    assert keys.set("gemini", CANARY) == str(tmp_path / "keys.json") and keys.get("gemini") == CANARY
    with pytest.raises(AiSessionsError, match=r"keyring package is not installed — pip install "
                                              r"'jupyter-ai-sessions\[keyring\]'"):
        keys.set("anthropic", CANARY, backend="keyring")


def test_keys_file_readable_by_others_is_narrowed_with_a_warning(tmp_path, caplog):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"openai": CANARY}))
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="ai_sessions.keys"):
        assert KeyStore(path, use_keyring=False).get("openai") == CANARY
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "readable by others" in caplog.text and CANARY not in caplog.text
