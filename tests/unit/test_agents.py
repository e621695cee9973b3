"""Agents (T3): ``[agents.NAME]`` presets of model, system prompt, parameters and tools, checked like the other
settings tables; a session starts from one, its values overridable; a tool name that resolves to nothing
is a clear error before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_sessions import AiSessionsError
from ai_sessions.errors import SettingsError
from ai_sessions.settings import load_settings
from tests import scripted  # noqa: F401  (registers the scripted provider kind)


def settings_from(tmp_path: Path, text: str):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings([path])


AGENTS = '''
[agents.reviewer]
model = "scripted:m"
system_prompt = "Review code tersely."
temperature = 0.1
tools = ["list_variables", "run_python"]
description = "reads your variables, runs code with your approval"

[agents.broken]
tools = ["no_such_tool"]
'''


def test_a_session_starts_from_an_agent_and_overrides_its_values(make_hub, tmp_path):
    hub = make_hub(settings=settings_from(tmp_path, AGENTS))
    assert [a.name for a in hub.agents()] == ["reviewer", "broken"]
    s = hub.session("review", agent="reviewer")
    assert (s.requested_model, s.system_prompt, s.params) == ("scripted:m", "Review code tersely.",
                                                             {"temperature": 0.1})
    assert [(name, approval) for name, _, approval in s.tools.rows()] == [("list_variables", "auto"),
                                                                          ("run_python", "ask")]
    other = hub.session("other", agent="reviewer", temperature=0.9, system_prompt="Be kind.")
    assert (other.params["temperature"], other.system_prompt) == (0.9, "Be kind.")


def test_a_tool_name_that_resolves_to_nothing_is_a_clear_error(make_hub, tmp_path):
    hub = make_hub(settings=settings_from(tmp_path, AGENTS))
    with pytest.raises(AiSessionsError, match="agent 'broken' names tool 'no_such_tool'"):
        hub.session("x", agent="broken")
    assert hub.sessions() == []  # nothing was created
    with pytest.raises(AiSessionsError, match=r"no agent named 'nobody' \(agents: broken, reviewer\)"):
        hub.session("y", agent="nobody")


@pytest.mark.parametrize("text, problem", [
    ('[agents.a]\ntemperature = "hot"\n', "expected a number"),
    ('[agents.a]\ntemperature = 3\n', "between 0 and 2"),
    ('[agents.a]\ntools = "run_python"\n', "expected a list"),
    ('[agents.a]\nmodel = "gpt"\n', "not of the form 'provider:model'"),
    ('[mcp.calc]\nargs = ["x"]\n', "needs either command"),
    ('[mcp.calc]\ncommand = "python"\napproval = "maybe"\n', 'expected "auto" or "ask"'),
    ('[tools]\nmax_rounds = 0\n', "must be positive"),
])
def test_bad_agent_mcp_and_tools_tables_name_file_line_and_key(tmp_path, text, problem):
    with pytest.raises(SettingsError, match=problem) as info:
        settings_from(tmp_path, text)
    assert info.value.path == tmp_path / "settings.toml" and info.value.line is not None
