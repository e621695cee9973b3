"""Driving a JupyterLab notebook from Playwright: open it, run code in it, find its cells.

Cells are run through JupyterLab's own commands (``window.jupyterapp``, exposed by
``--expose-app-in-browser``): exactly what Shift+Enter does, and the command's promise tells when the
cell has finished, so nothing waits on a timer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .lab import ARTIFACTS, LabServer

_FIND_PANEL = """
(path) => {
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (w.context && w.context.path === path) return w;
  }
  return null;
}
"""

_RUN = """
async ([path, code, wait]) => {
  const find = FIND_PANEL;
  const app = window.jupyterapp;
  const panel = find(path);
  await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  const nb = panel.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  const index = nb.activeCellIndex;
  nb.activeCell.model.sharedModel.setSource(code);
  const done = app.commands.execute('notebook:run-cell-and-insert-below');
  if (wait) await done;
  return index;
}
""".replace("FIND_PANEL", _FIND_PANEL.strip())


class Notebook:
    """A notebook open in the page."""

    def __init__(self, page: Any, lab: LabServer, name: str) -> None:
        self.page = page
        self.lab = lab
        self.name = lab.new_notebook(name)
        self.panel_id = ""

    def url(self) -> str:
        workspace = Path(self.name).stem  # one workspace per notebook: a reload reopens only this one
        return f"/lab/workspaces/{workspace}/tree/{self.name}?token={self.lab.token}"

    def open(self) -> Notebook:
        self.page.goto(self.url())
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
        self.page.wait_for_function(f"() => ({_FIND_PANEL})({self.name!r}) !== null")
        self.panel_id = self.page.evaluate(f"async () => {{ const p = ({_FIND_PANEL})({self.name!r});"
                                           " await p.sessionContext.ready; return p.id; }")
        self.page.wait_for_function(
            f"() => ({_FIND_PANEL})({self.name!r}).sessionContext.session?.kernel?.status === 'idle'")
        return self

    def run(self, code: str, *, wait: bool = True) -> Any:
        """Run ``code`` in the last cell (and wait for it to finish); returns the cell's locator."""
        index = self.page.evaluate(_RUN, [self.name, code, wait])
        return self.cell(index)

    def interrupt(self) -> None:
        self.page.evaluate(f"async () => {{ const p = ({_FIND_PANEL})({self.name!r});"
                           " await p.sessionContext.session.kernel.interrupt(); }")

    def cell(self, index: int) -> Any:
        return self.page.locator(f"#{self.panel_id} .jp-Cell").nth(index)

    def output_text(self, cell: Any) -> str:
        return cell.locator(".jp-OutputArea-output").last.inner_text()

    def restart_kernel(self) -> None:
        """Restart the kernel as a user does: the notebook's Restart Kernel command, confirmed in its dialog."""
        self.page.evaluate(f"() => {{ window.jupyterapp.shell.activateById({self.panel_id!r});"
                           " void window.jupyterapp.commands.execute('notebook:restart-kernel'); }")
        self.page.get_by_role("button", name="Confirm Kernel Restart").click()

    def wait_idle(self) -> None:
        self.page.wait_for_function(
            f"() => ({_FIND_PANEL})({self.name!r}).sessionContext.session?.kernel?.status === 'idle'")

    def save(self) -> None:
        self.page.evaluate(f"async () => {{ const p = ({_FIND_PANEL})({self.name!r}); await p.context.save(); }}")

    def shutdown_kernel(self) -> None:
        self.lab.shutdown_kernels_of(self.name)


def shot(target: Any, name: str) -> Path:
    """Screenshot ``target`` (a page or a locator) to test-artifacts/NAME.png."""
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path), animations="disabled")
    return path


class Notebook7(Notebook):
    """A notebook open in Jupyter Notebook 7 (same server, ``/notebooks/...``; same commands)."""

    def url(self) -> str:
        return f"/notebooks/{self.name}?token={self.lab.token}"
