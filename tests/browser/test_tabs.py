"""Tabs where there are tabs, the chat in the cell where there are none: JupyterLab and Jupyter Notebook 7
(served by the same server), for the chat, the hub panel and ``open_tab``."""

from __future__ import annotations

import pytest

from .notebook import shot
from .test_connection import DISCONNECTED, assert_read_only, dark, send

pytestmark = pytest.mark.browser

NO_TABS = "Tabs need JupyterLab: the chat is shown here instead."


def test_jupyterlab_opens_the_tab_and_the_cell_points_to_it(page, lab, notebook):
    nb = notebook("lab-tab.ipynb")
    nb.run('import ai_sessions\ns = ai_sessions.hub().session("tabbed", model="fake:echo")')
    cell = nb.run("tab = s.open_tab()")
    tab = page.locator(".jupyterlab-sidecar .ais-chat")
    tab.wait_for()
    pointer = cell.locator(".ais-tab-pointer[role=status]")
    pointer.wait_for(state="attached")  # the notebook is behind the tab now
    assert pointer.text_content() == "“tabbed” is open in a tab."
    assert cell.locator(".ais-chat").count() == 0
    send(tab, "in the tab")
    tab.get_by_text("Echo: in the tab").wait_for()
    out = nb.run("print(tab)")
    assert nb.output_text(out).strip() == "ChatTab(session='tabbed', open=True)"


def test_notebook7_shows_chats_the_panel_and_a_chat_instead_of_a_tab(page, lab, notebook7):
    nb = notebook7("nb7.ipynb")
    chat = nb.run('import ai_sessions\nhub = ai_sessions.hub()\ns = hub.session("nb7", model="fake:echo")\n'
                  "s.chat()").locator(".ais-chat")
    send(chat, "hello from Notebook 7")
    chat.get_by_text("Echo: hello from Notebook 7").wait_for()
    shot(chat, "nb7-chat")

    # open_tab: no tab here; the chat shows in the cell output, saying why, and no tab is reported
    cell = nb.run("tab = s.open_tab()\nprint(tab)")
    inline = cell.locator(".ais-chat")
    inline.get_by_text(NO_TABS).wait_for()
    inline.get_by_text("Echo: hello from Notebook 7").wait_for()
    assert "ChatTab(session='nb7', open=False, shown in the cell output: tabs need JupyterLab)" in cell.inner_text()
    assert page.locator(".jupyterlab-sidecar").count() == 0
    send(inline, "typed where the tab would be")
    chat.get_by_text("Echo: typed where the tab would be").wait_for()  # views stay in step
    shot(inline, "nb7-tab-fallback")

    # the panel: rows, and Open chat shows the chat inside the panel
    panel = nb.run("hub.panel()").locator(".ais-panel")
    panel.get_by_role("rowheader", name="nb7").wait_for()
    panel.get_by_role("button", name="Open chat nb7").click()
    shown = panel.locator(".ais-panel-inline-chat")
    shown.get_by_text("Tabs need JupyterLab: “nb7” is shown here.").wait_for()
    shown.locator(".ais-chat").get_by_text("Echo: typed where the tab would be").wait_for()
    shot(panel, "nb7-panel")
    dark(page, panel, "nb7-panel-dark")
    panel.get_by_role("button", name="Close chat nb7 shown here").click()
    shown.wait_for(state="detached")

    # saved and reopened with no kernel: read-only
    nb.save()
    nb.shutdown_kernel()
    page.reload()
    restored = page.locator(".ais-chat")
    restored.nth(1).wait_for()
    for i in range(2):
        assert_read_only(restored.nth(i))
    page.locator(".ais-panel").get_by_text(DISCONNECTED).wait_for()
    shot(restored.nth(0), "nb7-chat-saved")
