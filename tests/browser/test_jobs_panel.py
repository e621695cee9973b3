"""The hub panel's running jobs in a real JupyterLab: a map that is still running is listed with its progress,
and leaves the list when it ends; light and dark theme screenshots."""

from __future__ import annotations

import pytest

from .notebook import shot

pytestmark = pytest.mark.browser


def test_the_panel_lists_a_running_map(page, lab, notebook):
    nb = notebook("jobs.ipynb")
    nb.run('import ai_sessions\nhub = ai_sessions.hub()\n'
           'handle = hub.session("labels", model="fake:slow").submit_map("Label: {x}", ["a", "b", "c"], '
           'concurrency=1)')
    cell = nb.run("hub.panel()")
    panel = cell.locator(".ais-panel")
    panel.wait_for()
    jobs = panel.get_by_role("table", name="Running jobs")
    row = jobs.locator("tr[data-job]")
    row.wait_for()
    cells = row.locator("td")
    assert [cells.nth(i).inner_text() for i in range(4)] == ["labels", "live", "slow", "running"]
    assert cells.nth(4).inner_text().endswith("/3 done")
    shot(panel, "hub-panel-jobs-light")
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        shot(panel, "hub-panel-jobs-dark")
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    nb.run("handle.cancel()\nhandle.result(30)")
    row.wait_for(state="detached")
    assert jobs.is_hidden()
