"""The built-in notebook tools (``ai_sessions.notebook_tools``, defined here): the model looks at your variables, and —
with your approval each time — runs code in your namespace or adds a cell to your notebook.

- ``list_variables()``: names, types and shapes of the user's variables;
- ``inspect(name)``: the description of one variable (the same as attaching it with ``context=``);
- ``run_python(code)`` (**ask**): runs in the user namespace on the kernel's main thread when it is free;
  returns stdout, the last expression's repr, an exception's traceback and any figures, with limits;
- ``insert_cell(source, cell_type)`` (**ask**): adds a cell below the chat that shows the session, through
  the chat's own front end (the notebook in the browser, never the .ipynb on disk).
"""

from __future__ import annotations

import ast
import contextlib
import io
import traceback
from typing import Any, Literal

from .context import DEFAULT_CHARS, describe
from .errors import AiSessionsError
from .frontends import frontend_of
from .parts import ImagePart, Part, TextPart
from .tools import Tool, ToolSet, current_session

OUTPUT_CHARS = 10_000
MAX_FIGURES = 4


def _namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: the tools see the __main__ module
        import __main__

        return vars(__main__)
    shell = get_ipython()
    if shell is None:
        import __main__

        return vars(__main__)
    return shell.user_ns


def _visible(namespace: dict[str, Any]) -> dict[str, Any]:
    hidden = {"In", "Out", "exit", "quit", "get_ipython", "open"}
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and k not in hidden and type(v).__name__ not in ("module", "function", "type")}


def variable_rows(namespace: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """``[{name, type, shape}]`` of the user's variables (what ``@`` completion in the chat offers)."""
    rows = []
    for name, value in _visible(namespace if namespace is not None else _namespace()).items():
        shape = getattr(value, "shape", None)
        if shape is None and hasattr(value, "__len__") and not isinstance(value, str | bytes):
            try:
                shape = (len(value),)
            except TypeError:
                shape = None
        rows.append({"name": name, "type": type(value).__name__,
                     "shape": " x ".join(str(n) for n in shape) if isinstance(shape, tuple) else ""})
    return rows


def list_variables() -> str:
    """List the variables defined in the notebook: name, type and shape."""
    rows = variable_rows()
    if not rows:
        return "no variables are defined yet"
    return "\n".join(f"{r['name']}: {r['type']}" + (f" [{r['shape']}]" if r["shape"] else "") for r in rows)


def inspect(name: str) -> tuple[Part, ...]:
    """Describe one variable of the notebook: for a table its shape, columns, statistics and rows.

    Args:
        name: the variable's name
    """
    namespace = _namespace()
    if name not in namespace:
        raise KeyError(f"no variable named {name!r}; list_variables() shows what exists")
    return describe(namespace[name], name, budget=DEFAULT_CHARS)


def run_python(code: str) -> tuple[Part, ...]:
    """Run Python code in the notebook's namespace and return what it printed, the value of its last
    expression, the traceback of an exception, and any matplotlib figures it drew.

    Args:
        code: the Python code to run
    """
    namespace = _namespace()
    out = io.StringIO()
    parts: list[Part] = []
    before = _figure_numbers()
    value: Any = None
    try:
        tree = ast.parse(code, "<run_python>", "exec")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            exec(compile(tree, "<run_python>", "exec"), namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<run_python>", "eval"), namespace)
    except Exception:
        text = out.getvalue() + traceback.format_exc(limit=-8)
        parts.append(TextPart(_limit(text)))
        return (*parts, *_new_figures(before))
    printed = out.getvalue()
    if printed:
        parts.append(TextPart("stdout:\n" + _limit(printed)))
    if value is not None:
        parts.extend(describe(value, budget=OUTPUT_CHARS))
    parts.extend(_new_figures(before))
    return tuple(parts) or (TextPart("(ran; no output)"),)


async def insert_cell(source: str, cell_type: Literal["code", "markdown"] = "code") -> str:
    """Add a new cell to the notebook, below the chat, with this source (the user sees it; nothing runs).

    Args:
        source: the cell's text
        cell_type: "code" or "markdown"
    """
    session_id = current_session.get()
    bridge = frontend_of(session_id) if session_id else None
    if bridge is None:
        raise AiSessionsError("no chat of this session is on screen to add the cell below",
                              hint="show the session's chat (s.chat()) and ask again")
    return await bridge.insert_cell(source, cell_type)


def _limit(text: str) -> str:
    if len(text) <= OUTPUT_CHARS:
        return text
    return text[:OUTPUT_CHARS] + f"\n[… cut: {len(text) - OUTPUT_CHARS:,} more characters]"


def _figure_numbers() -> set[int]:
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot is not None else set()


def _new_figures(before: set[int]) -> list[Part]:
    """The figures the code drew, as images; closed, so they do not show again under the next cell."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    parts: list[Part] = []
    for number in sorted(set(pyplot.get_fignums()) - before)[:MAX_FIGURES]:
        figure = pyplot.figure(number)
        parts.extend(p for p in describe(figure) if isinstance(p, ImagePart))
        pyplot.close(figure)
    return parts


notebook_tools = ToolSet("notebook", [
    Tool.from_function(list_variables, source="notebook", main_thread=True),
    Tool.from_function(inspect, source="notebook", main_thread=True),
    Tool.from_function(run_python, source="notebook", approval="ask", main_thread=True),
    Tool.from_function(insert_cell, source="notebook", approval="ask"),
])
