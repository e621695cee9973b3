"""``ai_sessions.notebook_tools`` is the built-in tool set, before and after the module that defines it
(``ai_sessions.notebook``) is imported: no submodule of that name can shadow the package attribute."""

from __future__ import annotations

import importlib

import pytest

import ai_sessions
from ai_sessions.errors import AiSessionsError
from ai_sessions.tools import ToolBox, ToolSet


def test_the_package_attribute_is_the_tool_set_after_any_import():
    module = importlib.import_module("ai_sessions.notebook")
    assert isinstance(ai_sessions.notebook_tools, ToolSet)
    assert ai_sessions.notebook_tools is module.notebook_tools
    box = ToolBox()
    box.add(ai_sessions.notebook_tools)
    assert box.names() == ["list_variables", "inspect", "run_python", "insert_cell"]


def test_a_module_is_refused_with_a_hint():
    with pytest.raises(AiSessionsError, match="notebook_tools"):
        ToolBox().add(importlib.import_module("ai_sessions.notebook"))
