"""settings.toml: precedence, validation errors with file/line/key, unknown keys reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_sessions.errors import SettingsError
from ai_sessions.settings import SettingsWarning, load_settings, settings_files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_files_gives_local_defaults(tmp_path):
    settings = load_settings([tmp_path / "missing.toml"])
    assert settings.defaults.model == "local:smollm2"
    assert settings.sources == ()


def test_project_file_overrides_user_file_key_by_key(isolated_env):
    user, project = settings_files()
    assert user == isolated_env / "config" / "settings.toml"
    write(user, '[defaults]\nmodel = "openai:gpt-4o"\ntemperature = 0.2\n'
                '[providers.ollama]\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:11434/v1"\n')
    write(project, '[defaults]\ntemperature = 0.9\n[store]\npath = "~/x.db"\n')
    settings = load_settings()
    assert settings.defaults.model == "openai:gpt-4o"
    assert settings.defaults.temperature == 0.9
    assert settings.providers["ollama"].kind == "openai-compatible"
    assert settings.providers["ollama"].options["base_url"] == "http://127.0.0.1:11434/v1"
    assert settings.store_path == Path("~/x.db").expanduser()
    assert settings.sources == (user, project)


def test_env_var_points_at_another_file(isolated_env, monkeypatch):
    other = write(isolated_env / "elsewhere.toml", '[defaults]\nmax_tokens = 55\n')
    monkeypatch.setenv("AI_SESSIONS_SETTINGS", str(other))
    assert load_settings().defaults.max_tokens == 55
    monkeypatch.setenv("AI_SESSIONS_SETTINGS", str(isolated_env / "nope.toml"))
    with pytest.raises(SettingsError, match="file not found"):
        load_settings()


def test_bad_toml_names_file_and_line(tmp_path):
    path = write(tmp_path / "s.toml", '[defaults]\nmodel = "a:b"\ntemperature = = 1\n')
    with pytest.raises(SettingsError) as info:
        load_settings([path])
    assert info.value.path == path and info.value.line == 3
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_wrong_type_names_key_and_line(tmp_path):
    path = write(tmp_path / "s.toml", '# comment\n[defaults]\nmodel = "a:b"\nmax_tokens = "lots"\n')
    with pytest.raises(SettingsError) as info:
        load_settings([path])
    assert (info.value.key, info.value.line) == ("defaults.max_tokens", 4)
    assert "expected an integer" in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ('[defaults]\nmodel = "gpt-4o"\n', "provider:model"),
    ('[defaults]\ntemperature = 7\n', "between 0 and 2"),
    ('[defaults]\nmax_tokens = 0\n', "positive"),
    ('[providers.mine]\nbase_url = "http://x"\n', "needs kind"),
    ('[defaults]\ntemperature = true\n', "expected a number"),
    ('providers = 1\n', "must be tables"),
    ('store = "x.db"\n', "must be a table"),
    ('[providers.openai]\ntimeout = "60"\n', "expected a number, got str"),
    ('[providers.openai]\nbase_url = 5\n', "expected a string, got int"),
    ('[providers.openai]\nstream_usage = "yes"\n', "expected true or false"),
    ('[providers.openai]\nmodels = ["a", 5]\n', "list of strings"),
    ('[providers.local]\nn_ctx = 4096.5\n', "expected an integer"),
    ('[providers.local.models]\nqwen = 3\n', "table of name"),
    ('[defaults]\ntemperature = nan\n', "between 0 and 2"),
    ('[defaults]\nmax_tokens = 100000000\n', "max_tokens"),
    ('[store]\nevents_days = 0\n', "positive number of days"),
    ('[store]\nevents_days = "90"\n', "positive number of days"),
    ('[store]\nevents_days = true\n', "positive number of days"),
])
def test_bad_values(tmp_path, text, message):
    with pytest.raises(SettingsError, match=message):
        load_settings([write(tmp_path / "s.toml", text)])


def test_unknown_keys_are_reported_with_line(tmp_path):
    path = write(tmp_path / "s.toml", '[defaults]\nmodle = "a:b"\n\n[colours]\nx = 1\n')
    with pytest.warns(SettingsWarning) as record:
        load_settings([path])
    messages = [str(w.message) for w in record]
    assert any("defaults.modle" in m and "line 2" in m for m in messages)
    assert any("'colours'" in m and "line 4" in m for m in messages)


def test_unreadable_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xff\xfe[defaults]")
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings([path])


def test_provider_table_errors_name_file_line_and_key(tmp_path):
    path = write(tmp_path / "s.toml", '[providers.ollama]\nkind = "openai-compatible"\ntimeout = "slow"\n')
    with pytest.raises(SettingsError) as info:
        load_settings([path])
    assert (info.value.key, info.value.line) == ("providers.ollama.timeout", 3)


def test_unknown_provider_kind_is_an_error_listing_the_kinds(tmp_path):
    path = write(tmp_path / "s.toml", '[providers.ollama]\nkind = "ollamaa"\nbase_url = "http://x/v1"\n')
    with pytest.raises(SettingsError) as info:
        load_settings([path])
    assert (info.value.key, info.value.line) == ("providers.ollama.kind", 2)
    assert "no provider of kind 'ollamaa'" in str(info.value) and "openai-compatible" in str(info.value)


def test_unknown_provider_option_is_reported_and_ignored(tmp_path):
    path = write(tmp_path / "s.toml",
                 '[providers.ollama]\nkind = "openai-compatible"\nbase_ur = "http://x/v1"\ntimeout = 5\n')
    with pytest.warns(SettingsWarning, match=r"line 3: unknown key 'providers.ollama.base_ur'"):
        settings = load_settings([path])
    assert dict(settings.providers["ollama"].options) == {"timeout": 5}


def test_every_documented_provider_option_is_accepted(tmp_path):
    """The examples in docs/providers.md and docs/settings.md load without a warning or error."""
    import re
    import warnings

    docs_dir = Path(__file__).resolve().parents[2] / "docs"
    docs = (docs_dir / "providers.md").read_text() + (docs_dir / "settings.md").read_text()
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", docs, flags=re.S) if "[providers." in b]
    assert blocks
    for block in blocks:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_settings([write(tmp_path / "s.toml", block)])
