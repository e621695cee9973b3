"""Tools and context in the chat, in a real JupyterLab (issue 12): ``@df`` completion and its chip, an
agent chosen in the selector, a question about a real DataFrame answered through a ``run_python`` call
approved with the keyboard (and one denied), tool calls shown again after a page reload, Insert below and
``insert_cell`` adding cells below the chat. The model is the fake server's scripted ``analyst`` (it
writes the call a real model would; see fake_tools.py), reached through the real openai SDK."""

from __future__ import annotations

import re

import pytest

from .notebook import shot
from .test_chat import WATCH_PROGRESS, chat_cell, send

pytestmark = pytest.mark.browser

FRAME = ('import pandas as pd\nimport ai_sessions\n'
         'df = pd.DataFrame({"item": ["tea", "cake", "pie", "jam", "tart"], "price": [3.5, 24.0, 31.0, 8.0, 22.5]})\n')
CELLS = """
(path) => {
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (w.context && w.context.path === path) {
      return w.context.model.sharedModel.cells.map((c) => [c.cell_type, c.getSource()]);
    }
  }
  return null;
}
"""


def focused_name(page: object) -> str:
    return page.evaluate("() => { const e = document.activeElement;"
                         " return e ? (e.getAttribute('aria-label') || e.textContent || '').trim() : ''; }")


def tab_to(page: object, name: str, limit: int = 12) -> None:
    """Press Tab until the control named ``name`` has the focus (as a keyboard user does)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused_name(page) == name:
            return
    raise AssertionError(f"Tab never reached {name!r}; focus is on {focused_name(page)!r}")


def test_at_completion_attaches_a_dataframe_shown_as_a_chip(page, lab, notebook):
    nb = notebook("context.ipynb")
    _, chat = chat_cell(nb, FRAME + 's = ai_sessions.hub().session("ctx", model="fake:echo")\ns.chat()')
    box = chat.get_by_role("textbox", name="Message")
    box.click()
    box.press_sequentially("What is in @")
    listbox = chat.get_by_role("listbox", name="Variables")
    option = listbox.get_by_role("option", name=re.compile(r"^df"))
    option.wait_for()
    assert "DataFrame · 5 x 2" in option.inner_text()
    assert box.get_attribute("aria-activedescendant") == option.get_attribute("id")
    assert box.get_attribute("aria-controls") == listbox.get_attribute("id")
    shot(chat, "chat-at-completion")
    box.press("Enter")  # picks the option
    assert box.input_value() == "What is in @df "
    assert listbox.is_hidden()
    box.press_sequentially("exactly?")
    box.press("Enter")
    user = chat.locator('[data-role="user"]')
    chip = user.get_by_role("button", name="Attached df")
    chip.wait_for()
    assert user.locator(".ais-user-text").inner_text() == "What is in @df exactly?"
    assert chip.get_attribute("aria-expanded") == "false"
    chip.focus()
    page.keyboard.press("Enter")
    assert chip.get_attribute("aria-expanded") == "true"
    sent = chat.get_by_role("region", name="Sent for df")
    assert sent.inner_text().startswith("`df`: pandas DataFrame, 5 rows, 2 columns")
    assert "tart" in sent.inner_text() and "22.5" in sent.inner_text()
    chat.locator('[data-role="assistant"][data-status="complete"]').wait_for()
    shot(chat, "chat-attachment")


def test_a_question_about_a_dataframe_answered_through_a_call_approved_in_the_chat(page, lab, notebook):
    nb = notebook("analysis.ipynb")
    _, chat = chat_cell(nb, FRAME + 's = ai_sessions.hub().session("analysis")\ns.chat()')
    select = chat.get_by_role("combobox", name="Model")
    assert "can't call tools" in select.locator('option[value="local:smollm2"]').inner_text()
    assert select.locator('optgroup[label="Agents"] option').inner_text() == "analyst"
    select.select_option("@agent:analyst")  # the agent: fake:analyst with the notebook tools
    chat.get_by_role("separator").get_by_text("switched to analyst").wait_for()
    assert select.input_value() == "fake:analyst"

    page.evaluate(WATCH_PROGRESS)
    send(chat, "How many rows of df have price above 20?")
    card = chat.get_by_role("group", name="The model wants to call run_python (notebook)")
    card.wait_for()
    assert page.evaluate("() => document.activeElement.classList.contains('ais-approval')"), "focus moves to the card"
    assert card.locator("code.language-python").inner_text() == "int((df['price'] > 20).sum())"
    assert card.locator(".hljs-built_in, .hljs-number").count() > 0, "the code is highlighted"
    progress = chat.get_by_role("progressbar", name="Reply progress")
    assert progress.get_attribute("aria-valuetext").startswith("waiting for your approval")
    shot(chat, "chat-approval-card")
    _dark_shot(page, chat, "chat-approval-card-dark")
    card.focus()  # where it was before the theme changed
    tab_to(page, "Approve")
    page.keyboard.press("Enter")
    reply = chat.locator('[data-role="assistant"][data-status="complete"]')
    reply.get_by_text("run_python answered: the attached object (int): 3").wait_for()  # 3 rows: cake, pie, tart
    assert card.is_hidden()
    states = page.evaluate("window.__progress")
    assert any(s.startswith("waiting for your approval") for s in states), states
    assert any(s.startswith("calling run_python…") for s in states), states
    call = reply.locator("details.ais-tool")
    assert call.get_attribute("data-state") == "done"
    assert call.locator("summary").inner_text().replace("\n", " ").startswith("⚙ run_python")
    call.locator("summary").click()
    assert call.locator(".ais-tool-output").inner_text().split() == ["the", "attached", "object", "(int):", "3"]
    shot(chat, "chat-tool-answer")
    _dark_shot(page, chat, "chat-tool-answer-dark")

    # denied with the keyboard: the model is told, and says so
    send(chat, "How many rows of df have price above 5?")
    card.wait_for()
    tab_to(page, "Deny")
    page.keyboard.press("Space")
    denied = chat.locator('[data-role="assistant"][data-status="complete"]').nth(1)
    denied.get_by_text("run_python answered: Error: not run: the user denied it").wait_for()
    assert denied.locator("details.ais-tool").get_attribute("data-state") == "refused"

    # the tool turns come back after a reload (the kernel still runs)
    nb.save()
    page.reload()
    restored = page.locator(".ais-chat")
    restored.locator('[data-role="assistant"]').first.wait_for()
    again = restored.locator('[data-role="assistant"]')
    assert again.nth(0).locator("details.ais-tool").get_attribute("data-state") == "done"
    assert again.nth(1).locator("details.ais-tool").get_attribute("data-state") == "refused"
    assert "run_python answered: the attached object (int): 3" in again.nth(0).inner_text()
    shot(restored, "chat-tools-after-reload")


def test_insert_below_and_insert_cell_add_cells_below_the_chat(page, lab, notebook):
    nb = notebook("cells.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("cells", model="fake:echo")\ns.chat()')
    send(chat, "Code:\n```python\nprint('from the chat')\n```")
    reply = chat.locator('[data-role="assistant"][data-status="complete"]')
    reply.wait_for()
    reply.get_by_role("button", name="Insert python block 1 of reply 1 below").click()
    page.wait_for_function(f"() => ({CELLS})({nb.name!r})[1][1] === \"print('from the chat')\"")
    assert page.evaluate(CELLS, nb.name)[1] == ["code", "print('from the chat')"]
    assert "from the chat" not in (lab.root / nb.name).read_text(), "the file on disk is not written"

    nb.run('s.switch_model("fake:analyst")\ns.tools.add(ai_sessions.notebook_tools)')
    send(chat, 'Please insert_cell({"source": "# Findings", "cell_type": "markdown"})')
    card = chat.get_by_role("group", name="The model wants to call insert_cell (notebook)")
    card.wait_for()
    card.get_by_role("button", name="Approve").click()
    answer = chat.locator('[data-role="assistant"][data-status="complete"]').nth(1)
    answer.get_by_text("insert_cell answered: added a markdown cell below the chat (cell 3)").wait_for()
    cells = page.evaluate(CELLS, nb.name)
    assert cells[1:3] == [["code", "print('from the chat')"], ["markdown", "# Findings"]], cells
    nb.save()
    saved = (lab.root / nb.name).read_text()
    assert "# Findings" in saved and "from the chat" in saved
    shot(page, "chat-insert-cells")


def _dark_shot(page: object, chat: object, name: str) -> None:
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        shot(chat, name)
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")




def test_insert_below_in_notebook7(page, lab, notebook7):
    nb = notebook7("cells7.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("cells7", model="fake:echo")\ns.chat()')
    send(chat, "Code:\n```python\nx = 7\n```")
    reply = chat.locator('[data-role="assistant"][data-status="complete"]')
    reply.get_by_role("button", name="Insert python block 1 of reply 1 below").click()
    page.wait_for_function(f"() => ({CELLS})({nb.name!r})[1][1] === 'x = 7'")
