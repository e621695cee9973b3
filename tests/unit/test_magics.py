"""The %ai_session magics through a real IPython shell, on the scripted provider (and once on the
embedded local model): subcommands, the cell magic with interpolation and streaming, errors as one line."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from ai_sessions import MessageStatus, Role
from ai_sessions.errors import AuthError
from ai_sessions.magics import DisplayView, Reply, extract_code, register, stream_reply, unregister
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Defaults, Settings
from tests.scripted import SCRIPTS, Script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    settings = Settings(defaults=Defaults(model="scripted:echo"),
                        providers={"scripted": ProviderConfig("scripted", "scripted")})
    SCRIPTS["echo"] = Script(chunks=["you said: ", "{last}"])
    return make_hub(settings=settings)


def ipython_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InteractiveShell:
    """The process's IPython shell, made (once) with its profile in a temp dir and history in memory."""
    if not InteractiveShell.initialized():
        monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        return InteractiveShell.instance(config=config)
    return InteractiveShell.instance()


@pytest.fixture
def ip(shub, tmp_path, monkeypatch):
    shell = ipython_shell(tmp_path, monkeypatch)
    magics = register(shell, hub=shub)
    shell.user_ns.pop("topic", None)
    yield shell
    unregister(shell)
    assert magics is not None


def line(ip: InteractiveShell, text: str) -> Any:
    return ip.run_line_magic("ai_session", text)


def cell(ip: InteractiveShell, args: str, body: str) -> Any:
    return ip.run_cell_magic("ai_session", args, body)


# -- loading ------------------------------------------------------------------------------------------
def test_load_ext_is_fast_and_imports_nothing_heavy(tmp_path):
    code = (
        "import sys, time\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "t = time.perf_counter(); ip.run_line_magic('load_ext', 'ai_sessions'); t = time.perf_counter() - t\n"
        "h = sys.modules['ai_sessions.hub']\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'openai', 'anthropic', 'google', 'llama_cpp',\n"
        "                'pandas', 'ipywidgets', 'anywidget', 'tenacity', 'httpx', 'numpy'})\n"
        "print(t, heavy, h._hub is None, 'ai_session' in ip.magics_manager.magics['cell'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IPYTHONDIR": str(tmp_path / "ipython")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         check=True, timeout=60).stdout.split(" ", 1)
    seconds, rest = float(out[0]), out[1].strip()
    assert rest == "[] True True"  # no SDK, no widgets, no pandas; the hub is made on first use
    assert seconds < 2.0, f"%load_ext took {seconds:.2f}s"


def test_unload_removes_the_magics(ip):
    unregister(ip)
    assert "ai_session" not in ip.magics_manager.magics["line"]
    assert "ai_session" not in ip.magics_manager.magics["cell"]
    register(ip)


# -- subcommands --------------------------------------------------------------------------------------
def test_help_lists_every_subcommand_and_each_has_help(ip, capsys):
    line(ip, "help")
    out = capsys.readouterr().out
    for name in ("new", "list", "use", "model", "chat", "tab", "panel", "close", "delete", "fork", "export",
                 "models", "keys", "help", "%%ai_session"):
        assert name in out
    line(ip, "fork --help")
    assert "--at AT" in capsys.readouterr().out
    assert line(ip, "--help") is None


def test_new_list_use(ip, shub, capsys):
    line(ip, "new a --system 'Be brief.' --temperature 0.2 --max-tokens 50")
    line(ip, "new b --model scripted:other")
    a, b = shub.get("a"), shub.get("b")
    assert (a.system_prompt, a.params) == ("Be brief.", {"temperature": 0.2, "max_tokens": 50})
    assert b.model == "scripted:other"
    table = line(ip, "list")
    assert table.columns == ("", "name", "model", "status", "messages", "tokens", "cost")
    marks = {row[1]: row[0] for row in table.rows}
    assert marks == {"a": "", "b": "*"}  # `new` makes the session current
    line(ip, "use a")
    assert {row[1]: row[0] for row in line(ip, "list").rows} == {"a": "*", "b": ""}
    assert "<table>" in table._repr_html_() and "scripted:other" in repr(table)
    shub.session("a", scope="/elsewhere/other.ipynb")
    assert len(line(ip, "list").rows) == 2
    everywhere = line(ip, "list --all")
    assert everywhere.columns[-1] == "notebook"
    assert sorted((row[1], row[-1]) for row in everywhere.rows) == [
        ("a", "/elsewhere/other.ipynb"), ("a", shub.scope), ("b", shub.scope)]


def test_model_switches_the_current_session_with_a_reason(ip, shub, capsys):
    line(ip, "new a")
    line(ip, "model scripted:m2 --reason 'compare'")
    (switch,) = shub.get("a").model_switches
    assert (switch.from_model, switch.to_model, switch.reason) == ("scripted:echo", "scripted:m2", "compare")
    assert "scripted:echo -> scripted:m2" in capsys.readouterr().out


def test_fork_export_close_delete(ip, shub, tmp_path, capsys):
    line(ip, "new a")
    cell(ip, "", "one")
    cell(ip, "", "two")
    line(ip, "fork a --at 2 --as a2")
    assert [m.content for m in shub.get("a2").messages] == ["one", "you said: one"]
    target = tmp_path / "a.json"
    line(ip, f"export a --format json --to {target}")
    assert len(json.loads(target.read_text())["messages"]) == 4
    with capture_output() as shown:
        line(ip, "export a")
    assert "you said: two" in shown.outputs[0].data["text/markdown"]
    line(ip, "close a")
    assert all(s.name != "a" for s in shub.live_sessions())
    line(ip, "delete a")
    assert [i.name for i in shub.sessions()] == ["a2"]
    with pytest.raises(UsageError, match="no current session"):  # `a` was current; it is gone
        line(ip, "model scripted:x")


def test_export_refuses_to_overwrite_without_force(ip, shub, tmp_path, capsys):
    line(ip, "new a")
    cell(ip, "", "one")
    target = tmp_path / "a.md"
    target.write_text("my notes", encoding="utf-8")
    with pytest.raises(UsageError, match=r"already exists — add --force to overwrite it"):
        line(ip, f"export a --to {target}")
    assert target.read_text(encoding="utf-8") == "my notes"
    line(ip, f"export a --to {target} --force")
    assert "you said: one" in target.read_text(encoding="utf-8")
    assert f"wrote 'a' as markdown to {target}" in capsys.readouterr().out


def test_models_table_and_unknown_provider(ip):
    cell(ip, "x", "hi")  # makes the scripted model known
    table = line(ip, "models scripted")
    assert ("scripted:echo", "echo", "yes", "") in table.rows
    with pytest.raises(UsageError, match="unknown provider 'nope'"):
        line(ip, "models nope")


# -- keys ----------------------------------------------------------------------------------------------
def test_keys_are_listed_masked(ip, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234567890abcdef")
    table = line(ip, "keys")
    rows = {row[0]: row for row in table.rows}
    assert rows["openai"][1:] == ("env:OPENAI_API_KEY", "sk-…cdef")
    assert "1234567890" not in repr(table) + table._repr_html_()
    assert rows["local"][2] == "no key needed"


def test_keys_set_prompts_without_echo_and_never_takes_a_key_on_the_line(ip, shub, monkeypatch, capsys):
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "sk-secret-abcdefghijkl\n"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    line(ip, "keys set anthropic")
    assert prompts and "anthropic" in prompts[0]
    assert shub.keys.get("anthropic") == "sk-secret-abcdefghijkl"
    out = capsys.readouterr().out
    assert "secret" not in out and "…ijkl" in out
    with pytest.raises(UsageError, match="never be written in a cell"):
        line(ip, "keys set anthropic sk-pasted")
    line(ip, "keys delete anthropic")
    assert shub.keys.get("anthropic") is None
    assert "deleted the stored key" in capsys.readouterr().out


def test_keys_test_reports_ok_or_why_not(ip, capsys):
    line(ip, "keys test scripted")
    assert "scripted: OK" in capsys.readouterr().out
    with pytest.raises(UsageError, match="no API key for openai"):
        line(ip, "keys test openai")


def test_a_key_typed_in_place_of_the_action_is_not_echoed(ip):
    with pytest.raises(UsageError) as info:
        line(ip, "keys sk-pasted-abcdefghijklmnop")
    assert "abcdefghijklmnop" not in str(info.value)
    assert "list, set, delete or test" in str(info.value)


# -- errors are one line ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("use nope", "no session named 'nope'"),
    ("bogus", "unknown subcommand 'bogus'"),
    ("new x --temperature hot", "invalid float value"),
    ("new x --model gpt-4o", "not of the form 'provider:model'"),
    ("new x --model nope:m", "unknown provider 'nope'"),
    ("fork nope --at 1", "no session named 'nope'"),
    ("new 'unclosed", "check the quotes"),
    ("new ''", "`new` needs a session name"),
    ("new '   '", "`new` needs a session name"),
])
def test_user_errors_are_one_line_usage_errors(ip, text, expected):
    with pytest.raises(UsageError) as info:
        line(ip, text)
    assert expected in str(info.value)
    assert "\n" not in str(info.value) and " — " in str(info.value)  # message — what to do


def test_new_with_an_empty_name_creates_nothing(ip, shub):
    with pytest.raises(UsageError, match=r"e\.g\. `%ai_session new analysis`"):
        line(ip, "new ''")
    assert shub.sessions() == []


def test_errors_show_without_traceback_in_a_cell(ip, capsys):
    result = ip.run_cell("%ai_session use nope")
    err = capsys.readouterr().err
    assert not result.success
    assert err.startswith("UsageError: no session named 'nope'") and "Traceback" not in err


def test_a_provider_failure_is_one_line_and_the_turn_is_kept(ip, shub):
    SCRIPTS["echo"].errors.append(AuthError("invalid key", provider="scripted", hint="set a key"))
    with pytest.raises(UsageError, match="invalid key — set a key"):
        cell(ip, "s", "hi")
    assert [m.status for m in shub.get("s").messages] == [MessageStatus.COMPLETE, MessageStatus.FAILED]


# -- the cell magic -------------------------------------------------------------------------------------
def test_cell_body_is_the_prompt_with_variables_filled(ip, shub):
    ip.user_ns.update(topic="churn", df_shape=(10, 3))
    reply = cell(ip, "analysis", "Explain {topic} for a table of shape {df_shape}; {{braces}} stay.")
    assert isinstance(reply, Reply) and reply == "you said: Explain churn for a table of shape (10, 3); {braces} stay."
    session = shub.get("analysis")
    assert [m.role for m in session.messages] == [Role.USER, Role.ASSISTANT]
    assert reply.message == session.messages[-1]


def test_the_conversation_is_the_sessions_history(ip, shub):
    SCRIPTS["echo"] = Script(chunks=["turns={turns}"])
    line(ip, "new a")
    cell(ip, "", "first")
    assert cell(ip, "", "second") == "turns=3"  # the earlier turns were sent
    assert len(shub.get("a").messages) == 4
    assert cell(ip, "other", "fresh") == "turns=1"  # another session, its own history


def test_without_a_name_or_use_the_default_session_is_used(ip, shub):
    cell(ip, "", "hi")
    assert [i.name for i in shub.sessions()] == ["default"]


def test_an_explicit_empty_name_is_refused_not_taken_as_the_current_session(ip, shub):
    cell(ip, "", "hi")
    for text in ("chat ''", "tab '  '"):
        with pytest.raises(UsageError, match="cannot be empty or blank"):
            line(ip, text)
    with pytest.raises(UsageError, match="cannot be empty or blank"):
        cell(ip, "''", "hello")
    assert len(shub.get("default").messages) == 2  # nothing more was sent


def test_a_missing_variable_is_a_clear_error_and_no_interpolate_sends_braces(ip, shub):
    with pytest.raises(UsageError) as info:
        cell(ip, "a", "Summarise {missing_df}")
    assert "no variable 'missing_df' is defined" in str(info.value) and "--no-interpolate" in str(info.value)
    assert shub.sessions() == []  # nothing was sent
    assert cell(ip, "a --no-interpolate", 'Parse {"a": 1}') == 'you said: Parse {"a": 1}'
    with pytest.raises(UsageError, match="unbalanced braces"):
        cell(ip, "a", "Parse {oops")
    with pytest.raises(UsageError, match="check the quotes"):
        cell(ip, "'a", "hi")


@pytest.mark.parametrize(("body", "expected"), [
    ("Summarise {d['k']}", "keys take no quotes: write {d[k]}"),
    ("How long is {len(items)}?", "is an expression; placeholders are not evaluated"),
    ('Parse {"a": 1}', "--no-interpolate"),
])
def test_a_placeholder_that_is_not_a_variable_path_says_what_to_write(ip, shub, monkeypatch, body, expected):
    monkeypatch.setitem(ip.user_ns, "d", {"k": 1})
    monkeypatch.setitem(ip.user_ns, "items", [1, 2])
    with pytest.raises(UsageError) as info:
        cell(ip, "a", body)
    assert expected in str(info.value)
    assert shub.sessions() == []  # nothing was sent


def test_model_option_switches_the_session_and_is_logged(ip, shub):
    cell(ip, "a", "one")
    cell(ip, "a --model scripted:m2", "two")
    session = shub.get("a")
    assert [m.model for m in session.messages if m.role is Role.ASSISTANT] == ["scripted:echo", "scripted:m2"]
    assert session.model_switches[0].reason == "%%ai_session --model"
    cell(ip, "b --model scripted:m3", "hi")
    assert shub.get("b").model_switches == ()  # a new session simply starts on that model


def test_format_code_offers_the_code_as_the_next_cell(ip, monkeypatch):
    SCRIPTS["echo"] = Script(chunks=["Here:\n```python\nimport pandas as pd\n", "df = pd.read_csv('x')\n```\nDone."])
    offered: list[tuple[str, bool]] = []
    monkeypatch.setattr(ip, "set_next_input", lambda text, replace=False: offered.append((text, replace)))
    cell(ip, "a --format code", "write code")
    assert offered == [("import pandas as pd\ndf = pd.read_csv('x')", False)]


@pytest.mark.parametrize("chunks", [["I cannot help with that."], [""]])
def test_format_code_without_code_offers_no_cell_and_says_so(ip, monkeypatch, capsys, chunks):
    SCRIPTS["echo"] = Script(chunks=chunks)
    offered: list[str] = []
    monkeypatch.setattr(ip, "set_next_input", lambda text, replace=False: offered.append(text))
    cell(ip, "a --format code", "write code")
    assert offered == []
    assert "no code" in capsys.readouterr().err


def test_extract_code_joins_blocks_or_takes_the_text():
    assert extract_code("a\n```py\nx = 1\n```\nb\n```\ny = 2\n```") == "x = 1\n\ny = 2"
    assert extract_code("  print(1)\n") == "print(1)"
    assert extract_code("Sorry, I can't.") == ""


def test_the_reply_streams_into_one_updated_output_in_a_kernel(ip, monkeypatch):
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    with capture_output() as captured:
        reply = cell(ip, "a", "hi")
    outputs = captured.outputs
    assert outputs[0].data["text/plain"] == "…" and not outputs[0].update
    assert outputs[-1].data == {"text/markdown": "you said: hi", "text/plain": "you said: hi"}
    assert all(o.update and o.transient["display_id"] == outputs[0].transient["display_id"] for o in outputs[1:])
    # the cell's value is the reply; displaying it again renders markdown, its own display adds nothing
    assert reply == "you said: hi"
    with capture_output() as shown:
        reply._ipython_display_()  # the displayhook of the magic's own cell: already shown
        ip.execution_count += 1
        reply._ipython_display_()  # `_` shown in a later cell
    assert [o.data.get("text/markdown") for o in shown.outputs] == ["you said: hi"]


def test_display_view_updates_in_place_only_when_the_text_changes():
    with capture_output() as captured:
        view = DisplayView("text")
        view.update("")
        view.update("a")
        view.update("a")
        view.finish("ab")
    assert [o.data for o in captured.outputs] == [{"text/plain": "…"}, {"text/plain": "a"}, {"text/plain": "ab"}]


class RecordingView:
    """A view that acts when it first sees partial text."""

    def __init__(self, on_partial: Any) -> None:
        self.on_partial = on_partial
        self.updates: list[str] = []
        self.final: str | None = None

    def update(self, text: str) -> None:
        self.updates.append(text)
        if text and self.on_partial is not None:
            action, self.on_partial = self.on_partial, None
            action()

    def finish(self, text: str) -> None:
        self.final = text

    def fail(self, text: str) -> None:
        self.final = text


def test_partial_text_is_shown_while_the_reply_streams(shub):
    gate = asyncio.Event()
    SCRIPTS["echo"] = Script(chunks=["partial"], gate=gate)
    session = shub.session("a")
    view = RecordingView(lambda: shub.runtime.loop.loop.call_soon_threadsafe(gate.set))
    message = stream_reply(session, "hi", view)
    assert "partial" in view.updates and view.final == "partial" and message.status is MessageStatus.COMPLETE


def test_a_kernel_interrupt_stops_the_reply_and_keeps_the_partial_text(shub):
    SCRIPTS["echo"] = Script(chunks=["partial"], gate=asyncio.Event())  # never finishes by itself

    def interrupt() -> None:
        raise KeyboardInterrupt

    session = shub.session("a")
    view = RecordingView(interrupt)
    with pytest.raises(KeyboardInterrupt):
        stream_reply(session, "hi", view)
    last = session.messages[-1]
    assert (last.status, last.content) == (MessageStatus.STOPPED, "partial")
    assert view.final is not None and view.final.startswith("partial") and "stopped" in view.final


def test_fallback_is_one_note_line(ip, capsys):
    cell(ip, "a --model openai:gpt-4o-mini", "hi")
    err = capsys.readouterr().err
    assert "note: session 'a': no API key for openai" in err
    assert "warnings.warn" not in err


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the local extra")
def test_cell_magic_on_the_embedded_model(make_hub, capsys, tmp_path, monkeypatch):
    hub = make_hub()  # default settings: local:smollm2
    hub.session("local", max_tokens=8)
    shell = ipython_shell(tmp_path, monkeypatch)
    register(shell, hub=hub)
    try:
        reply = shell.run_cell_magic("ai_session", "local", "Say hello.")
    finally:
        unregister(shell)
    assert reply and reply.message.model == "local:smollm2"
    assert reply.message.status is MessageStatus.COMPLETE
    assert reply in capsys.readouterr().out  # streamed to the terminal as it came


def test_chat_tab_and_panel_return_widgets(ip, shub):
    widgets = pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first")
    line(ip, "new a")
    chat = line(ip, "chat")
    assert isinstance(chat, widgets.ChatWidget) and chat.session_id == shub.get("a").id
    assert repr(line(ip, "chat a")) == "ChatWidget(session='a')"  # deterministic for nbval
    tab = line(ip, "tab a")
    assert tab.sidecar is not None and tab.name == "a"  # a tab is tried; reported open once a view confirms it
    tab.close()
    panel = line(ip, "panel")
    assert isinstance(panel, widgets.HubPanel)
    for widget in (chat, panel):
        widget.close()


def test_keys_set_keyring_stores_in_the_os_keyring(ip, shub, monkeypatch, capsys, request):
    monkeypatch.setattr("getpass.getpass", lambda prompt: "sk-ring-abcdefghijkl")
    with pytest.raises(UsageError, match="no usable OS keyring"):  # the test hub's key store has it off
        line(ip, "keys set gemini --keyring")
    ring = request.getfixturevalue("memory_keyring")
    monkeypatch.setattr(shub.keys, "_use_keyring", True)
    monkeypatch.setattr(shub.keys, "_keyring_checked", False)
    line(ip, "keys set gemini --keyring")
    assert ring == {("ai_sessions", "gemini"): "sk-ring-abcdefghijkl"}
    assert "in the OS keyring" in capsys.readouterr().out
    assert shub.keys.source("gemini").source == "keyring"
    with pytest.raises(UsageError, match="--keyring goes with `keys set`"):
        line(ip, "keys delete gemini --keyring")
