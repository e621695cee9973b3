"""The layering of docs/architecture.md holds: no module of ai_sessions touches another object's private
attributes (collaborators are passed in: the Runtime), and the import-linter contract is kept."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ai_sessions

PACKAGE = Path(ai_sessions.__file__).parent
#: Private names of the standard library that are the documented way to do something.
ALLOWED = {"sys._getframe"}


def private_reaches(source: str) -> list[str]:
    """``obj._name`` where ``obj`` is not ``self`` / ``cls`` (dunder names are public protocol)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") and node.attr.endswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) and node.value.func.id == "super":
            continue  # the object's own inherited state
        text = ast.unparse(node)
        if text not in ALLOWED:
            found.append(f"line {node.lineno}: {text}")
    return found


def test_the_check_finds_a_reach_into_private_state():
    assert private_reaches("session._hub._loop.run(x)") == ["line 1: session._hub._loop", "line 1: session._hub"]
    assert private_reaches("self._x = other.public; cls._y; obj.__class__") == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_touches_another_objects_private_attributes(path):
    assert private_reaches(path.read_text(encoding="utf-8")) == []


def test_the_import_layers_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is part of the dev extra: pip install -e '.[dev]'"
    result = subprocess.run([lint], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
