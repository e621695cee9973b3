"""``s.tools.add(ai_sessions.notebook_tools)`` works whatever ``ai_sessions.notebook_tools`` names: the tool
set (the package's lazy attribute), or the submodule of the same name once anything imported it (Python
then sets the package attribute to the module, shadowing the lazy one)."""

from __future__ import annotations

import importlib

import ai_sessions
from ai_sessions.tools import ToolBox


def test_the_notebook_tools_are_added_by_their_module_too():
    module = importlib.import_module("ai_sessions.notebook_tools")
    box = ToolBox()
    box.add(ai_sessions.notebook_tools)  # after the import above: the module
    assert box.names() == ["list_variables", "inspect", "run_python", "insert_cell"]
    other = ToolBox()
    other.add(module.notebook_tools)
    assert other.names() == box.names()
