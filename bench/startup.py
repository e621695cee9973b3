"""Figure 4, start-up: ``import ai_sessions`` and ``%load_ext ai_sessions`` in fresh processes, against
``%load_ext jupyter_ai_magics`` (jupyter-ai's magics) measured the same way in the same run.

jupyter-ai-magics is installed from PyPI into its own venv (bench/.cache/venv-baseline), never into the
project's. Each measurement is a fresh interpreter; the time is taken inside it around the import or the
magic (the IPython shell is created first and not timed), alternating ours and the baseline; medians.
The figure also measures the first use of a provider (:mod:`bench.first_use`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import first_use
from .common import CACHE, ROOT, Row, Sizes, isolated_env, median

IMPORT_BUDGET_MS = 150.0
LOAD_EXT_BUDGET_MS = 100.0
BASELINE_VENV = CACHE / "venv-baseline"
BASELINE_PACKAGE = "jupyter-ai-magics"

IMPORT_CODE = """
import json, time
t = time.perf_counter()
import {module}
print(json.dumps(time.perf_counter() - t))
"""
LOAD_EXT_CODE = """
import json, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
t = time.perf_counter()
shell.run_line_magic("load_ext", "{module}")
elapsed = time.perf_counter() - t
assert "{module}" in __import__("sys").modules, "extension did not load"
print(json.dumps(elapsed))
"""


def baseline_python(install: bool) -> tuple[Path | None, str]:
    """The baseline venv's python (created and filled from PyPI if ``install``), or None and why not."""
    python = BASELINE_VENV / "bin" / "python"
    check = [str(python), "-c", "import jupyter_ai_magics, IPython"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    if not install:
        return None, "not installed (smoke runs do not install it; `make bench` does)"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(BASELINE_VENV)], check=True,
                       capture_output=True, timeout=120)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", BASELINE_PACKAGE, "ipython"],
                              capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"creating its venv failed: {exc}"
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("WARNING")]
        return None, f"pip install {BASELINE_PACKAGE} failed: {(lines or ['?'])[-1][:200]}"
    if subprocess.run(check, capture_output=True).returncode != 0:
        return None, f"{BASELINE_PACKAGE} installed but does not import"
    return python, ""


def baseline_version(python: Path) -> str:
    done = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('jupyter-ai-magics'))"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "?"


def once(python: Path | str, code: str, env: dict[str, str]) -> float:
    """Seconds measured inside a fresh interpreter running ``code``."""
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, cwd=env["HOME"],
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{python} failed: {done.stderr.strip()[-400:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def run(sizes: Sizes) -> list[Row]:
    repeats = sizes.pick(9, 2)
    base_python, why = (None, "not measured in smoke runs") if sizes.smoke else baseline_python(install=True)
    with isolated_env() as tmp:
        home = tmp / "home"
        home.mkdir()
        env = {**os.environ, "HOME": str(home), "IPYTHONDIR": str(tmp / "ipython"), "PYTHONPATH": str(ROOT)}
        times: dict[str, list[float]] = {"import": [], "load_ext": [], "base_import": [], "base_load_ext": []}
        for i in range(repeats + 1):  # round 0 warms the file cache and .pyc files: dropped
            jobs = [("import", sys.executable, IMPORT_CODE.format(module="ai_sessions")),
                    ("load_ext", sys.executable, LOAD_EXT_CODE.format(module="ai_sessions"))]
            if base_python is not None:
                jobs += [("base_import", base_python, IMPORT_CODE.format(module="jupyter_ai_magics")),
                         ("base_load_ext", base_python, LOAD_EXT_CODE.format(module="jupyter_ai_magics"))]
            for name, python, code in jobs if i % 2 == 0 else reversed(jobs):
                elapsed = once(python, code, env)
                if i:
                    times[name].append(elapsed * 1000)
    label = f"jupyter-ai-magics {baseline_version(base_python)}" if base_python else ""
    note_base = f"baseline {label} in its own venv" if base_python else f"baseline unavailable: {why}"
    rows = []
    for name, title, budget in (("import", "`import ai_sessions`", IMPORT_BUDGET_MS),
                                ("load_ext", "`%load_ext ai_sessions`", LOAD_EXT_BUDGET_MS)):
        ours = median(times[name])
        base = median(times[f"base_{name}"]) if times[f"base_{name}"] else None
        what = ("import jupyter_ai_magics`, which defers its work to `%load_ext" if name == "import"
                else "%load_ext jupyter_ai_magics")
        rows.append(Row(f"4 Start-up: {title}", ours, base, "ms", f"≤ {budget:g} ms", ours <= budget,
                        note=f"fresh process each, median of {repeats}; {note_base} (`{what}`)",
                        baseline_label=label if base is not None else "baseline unavailable"))
    return rows + first_use.run(sizes)
