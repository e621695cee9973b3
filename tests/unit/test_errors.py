"""How our errors read: message and hint, and one line in IPython instead of an SDK traceback."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from ai_sessions.errors import ConnectionFailed, SessionClosed, UnknownModel
from ai_sessions.providers import provider_class
from tests.unit.test_magics import ipython_shell


def test_ipython_shows_our_error_as_one_line_not_the_sdk_chain(tmp_path, monkeypatch):
    shell = ipython_shell(tmp_path, monkeypatch)
    cell = ("from ai_sessions.errors import ConnectionFailed\n"
            "try:\n"
            "    raise OSError('[Errno 111] deep inside the HTTP client')\n"
            "except OSError as sdk_error:\n"
            "    raise ConnectionFailed('connection to ollama failed', hint='check base_url') from sdk_error\n")
    with capture_output() as captured:
        result = shell.run_cell(cell)
    assert isinstance(result.error_in_exec, ConnectionFailed)
    assert isinstance(result.error_in_exec.__cause__, OSError)  # kept for debugging
    shown = (captured.stdout + captured.stderr).strip()
    assert shown == "ConnectionFailed: connection to ollama failed — check base_url"


def test_closed_session_hint_says_what_reopening_gives():
    assert "deleted one starts empty" in str(SessionClosed("session 'a' is closed"))


def test_unknown_provider_kind_lists_the_known_kinds():
    with pytest.raises(UnknownModel) as info:
        provider_class("ollamaa")
    assert "no provider of kind 'ollamaa'" in str(info.value) and "openai-compatible" in str(info.value)
