"""Issue 13 in a real JupyterLab: edit and branch switching, delete with undo and retry in place, the Session
settings popover, attachments by paste and by the Attach button, per-message details, and search from the hub
panel opening a chat at the message. By accessible names; screenshots in light and dark."""

from __future__ import annotations

from typing import Any

import pytest

from .notebook import Notebook
from .test_chat_render import shots

pytestmark = pytest.mark.browser

# A paste of files, as the browser makes it from the clipboard (Playwright cannot fill the real clipboard
# with files): a ClipboardEvent whose DataTransfer holds them.
PASTE_FILE = """
([selector, name, type, text]) => {
  const box = document.querySelector(selector);
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type }));
  box.focus();
  return box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
}
"""


def chat_for(nb: Notebook, setup: str) -> Any:
    cell = nb.run(setup)
    chat = cell.locator(".ais-chat")
    chat.wait_for()
    return chat


def send(chat: Any, text: str) -> None:
    box = chat.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def reply_with(chat: Any, text: str) -> Any:
    reply = chat.locator('[data-role="assistant"][data-status="complete"]', has_text=text)
    reply.wait_for()
    return reply


def texts(chat: Any) -> list[str]:
    return [t.strip() for t in chat.locator("[role=log] .ais-message .ais-message-body").all_inner_texts()]


def kernel_value(nb: Notebook, expression: str) -> str:
    return nb.output_text(nb.run(expression)).strip()


def test_edit_and_switch_branches(page, lab, notebook):
    nb = notebook("branches.ipynb")
    chat = chat_for(nb, 'import ai_sessions\ns = ai_sessions.hub().session("branches", model="fake:echo")\ns.chat()')
    send(chat, "first question")
    reply_with(chat, "Echo: first question")
    first = chat.get_by_role("article", name="Message 1 (yours)")
    first.hover()
    first.get_by_role("button", name="Edit message 1").click()
    editor = first.get_by_role("textbox", name="New text of message 1")
    assert editor.input_value() == "first question"
    editor.fill("better question")
    editor.press("Enter")
    reply_with(chat, "Echo: better question")
    assert texts(chat) == ["better question", "Echo: better question"]
    switcher = chat.get_by_role("group", name="Branches of message 1: 2 of 2")
    assert switcher.inner_text().replace("\n", "").strip() == "\u20392/2\u203a"  # the angle quotes around 2/2
    chat.hover()
    shots(page, chat, "chat-branches")
    switcher.get_by_role("button", name="Previous branch").click()
    chat.get_by_role("group", name="Branches of message 1: 1 of 2").wait_for()
    assert texts(chat) == ["first question", "Echo: first question"]
    assert kernel_value(nb, "[m.content for m in s.messages]") == "['first question', 'Echo: first question']"
    chat.get_by_role("group", name="Branches of message 1: 1 of 2").get_by_role("button", name="Next branch").click()
    chat.get_by_role("group", name="Branches of message 1: 2 of 2").wait_for()
    assert texts(chat) == ["better question", "Echo: better question"]
    assert kernel_value(nb, "len(s.branches)") == "2"


def test_delete_with_undo_and_retry_in_place(page, lab, notebook):
    nb = notebook("delete.ipynb")
    chat = chat_for(nb, "import ai_sessions\nhub = ai_sessions.hub()\ncalls = []\n"
                        "def flaky(messages):\n"
                        "    calls.append(1)\n"
                        "    if len(calls) == 3: raise RuntimeError('the in-house model is down')\n"
                        "    return 'ok: ' + messages[-1]['content']\n"
                        'hub.register_model("flaky", flaky)\n'
                        's = hub.session("deleting", model="python:flaky")\ns.chat()')
    select = chat.get_by_role("combobox", name="Model")  # a Python function is a model like any other
    assert select.locator('optgroup[label="Python"] option[value="python:flaky"]').count() == 1
    send(chat, "one")
    reply_with(chat, "ok: one")
    send(chat, "two")
    reply_with(chat, "ok: two")
    first = chat.get_by_role("article", name="Message 1 (yours)")
    first.hover()
    first.get_by_role("button", name="Delete message 1").click()
    chat.get_by_role("status").get_by_text("Message and its reply deleted.").wait_for()
    assert texts(chat) == ["two", "ok: two"]
    chat.get_by_role("button", name="Undo delete").click()
    chat.get_by_text("ok: one").wait_for()
    assert texts(chat) == ["one", "ok: one", "two", "ok: two"]
    chat.get_by_role("article", name="Message 1 (yours)").hover()
    chat.get_by_role("button", name="Delete message 1").click()
    chat.get_by_role("button", name="Undo delete").wait_for(state="detached", timeout=15_000)  # the undo time ends
    page.wait_for_function("() => document.querySelectorAll('.ais-chat [role=log] .ais-message').length === 2")
    assert kernel_value(nb, "[m.content for m in s.messages]") == "['two', 'ok: two']"

    send(chat, "three")  # the function's third call fails
    failed = chat.locator('[data-role="assistant"][data-status="failed"]')
    failed.wait_for()
    assert "the in-house model is down" in failed.inner_text()
    shots(page, chat, "chat-failed-retry")
    failed.get_by_role("button", name="Retry reply 2").click()
    reply_with(chat, "ok: three")
    assert texts(chat) == ["two", "ok: two", "three", "ok: three"]


def test_session_settings_popover(page, lab, notebook):
    nb = notebook("settings.ipynb")
    chat = chat_for(nb, 'import ai_sessions\ns = ai_sessions.hub().session("tuned", model="fake:echo")\ns.chat()')
    button = chat.get_by_role("button", name="Session settings")
    button.focus()
    page.keyboard.press("Enter")  # keyboard operable
    dialog = chat.get_by_role("dialog", name="Session settings")
    dialog.wait_for()
    assert button.get_attribute("aria-expanded") == "true"
    model = dialog.get_by_label("Model")
    assert page.evaluate("() => document.activeElement.id") == model.get_attribute("id")
    assert model.input_value() == "fake:echo"
    temperature, max_tokens = dialog.get_by_label("Temperature"), dialog.get_by_label("Max tokens")
    system = dialog.get_by_label("System prompt")
    assert max_tokens.get_attribute("aria-describedby")
    assert dialog.get_by_text("Default: 1024").is_visible()  # the inherited default next to the field
    assert dialog.get_by_text("Default: the provider's").is_visible()
    temperature.fill("7")
    dialog.get_by_role("button", name="Save settings").click()
    dialog.get_by_role("alert").get_by_text("between 0 and 2").wait_for()
    temperature.fill("0.3")
    max_tokens.fill("200")
    system.fill("Answer in French.")
    shots(page, chat, "chat-settings")
    dialog.get_by_role("button", name="Save settings").click()
    dialog.wait_for(state="hidden")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Session settings"
    saved = kernel_value(nb, "(s.params, s.system_prompt)")
    assert saved == "({'temperature': 0.3, 'max_tokens': 200}, 'Answer in French.')"
    button.focus()  # running the cell moved the focus to the notebook
    page.keyboard.press("Enter")
    dialog.wait_for()
    assert temperature.input_value() == "0.3"
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Session settings"


def test_attachments_by_paste_and_by_the_button(page, lab, notebook, tmp_path):
    nb = notebook("attach.ipynb")
    chat = chat_for(nb, 'import ai_sessions\ns = ai_sessions.hub().session("files", model="fake:echo")\ns.chat()')
    box = chat.get_by_role("textbox", name="Message")
    box_id = "attach-box"
    box.evaluate(f"(e) => e.id = {box_id!r}")
    page.evaluate(PASTE_FILE, [f"#{box_id}", "table.csv", "text/csv", "city,rain\nOslo,763\n"])
    chips = chat.get_by_role("list", name="Attachments")
    chips.get_by_text("table.csv").wait_for()
    assert "19 bytes" in chips.inner_text()
    image = tmp_path / "plot.png"
    image.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                                    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"))
    with page.expect_file_chooser() as chooser:
        chat.get_by_role("button", name="Attach", exact=True).click()
    chooser.value.set_files(str(image))
    chips.get_by_text("plot.png").wait_for()
    problem = chat.get_by_role("alert").filter(has_text="cannot see images")
    problem.wait_for()  # said before anything is sent
    shots(page, chat, "chat-attachments")
    box.fill("rain?")
    box.press("Enter")
    assert box.input_value() == "rain?"  # refused: nothing sent
    chips.get_by_role("button", name="Remove plot.png").click()
    problem.wait_for(state="hidden")
    box.press("Enter")
    reply = reply_with(chat, "Echo: rain?")
    assert "Oslo,763" in reply.inner_text()  # the text file reached the model as text
    sent = chat.get_by_role("article", name="Message 1 (yours)")
    sent.get_by_role("button", name="Attached table.csv").wait_for()  # the sent message shows it as a chip
    notes = tmp_path / "notes.txt"
    notes.write_text("wind: strong\n")
    with page.expect_file_chooser() as chooser:
        chat.get_by_role("button", name="Attach", exact=True).click()
    chooser.value.set_files(str(notes))
    chips.get_by_text("notes.txt").wait_for()
    box.press("Enter")  # attachments alone make a message
    reply_with(chat, "wind: strong")
    assert kernel_value(nb, "[p.kind for p in s.messages[2].parts]") == "['file']"


def test_reply_details_on_hover_and_in_the_toggle(page, lab, notebook):
    nb = notebook("details.ipynb")
    chat = chat_for(nb, 'import ai_sessions\ns = ai_sessions.hub().session("detailed", model="fake:echo")\ns.chat()')
    send(chat, "hello")
    reply = reply_with(chat, "Echo: hello")
    line = reply.locator(".ais-meta-line")
    assert not line.is_visible()  # out of the way (and of copied text) until the reply is pointed at
    reply.hover()
    assert "first token" in line.inner_text() and "5 in / 2 out" in line.inner_text()
    reply.locator('summary[aria-label="Details of reply 1"]').click()
    details = reply.locator(".ais-details-list")
    details.wait_for()
    assert "First token" in details.inner_text() and "fake:echo" in details.inner_text()
    shots(page, chat, "chat-details")


def test_search_from_the_panel_opens_the_chat_at_the_message(page, lab, notebook):
    nb = notebook("search.ipynb")
    nb.run('import ai_sessions\nhub = ai_sessions.hub()\na = hub.session("weather", model="fake:echo")\n'
           'a.send("how much rain falls in Bergen?")\na.send("and snow?")\n'
           'a.edit(0, "how sunny is Bergen?")\nb = hub.session("other", model="fake:echo")\nb.send("nothing here")')
    cell = nb.run("hub.panel()")
    panel = cell.locator(".ais-panel")
    panel.wait_for()
    box = panel.get_by_role("searchbox", name="Search sessions")
    box.fill("rain Bergen")
    results = panel.get_by_role("list", name="Search results")
    hit = results.get_by_role("button").filter(has_text="weather · you")
    hit.wait_for()
    assert hit.locator("mark").all_inner_texts()[:2] == ["rain", "Bergen"]
    shots(page, panel, "hub-panel-search")
    hit.click()
    tab_chat = page.locator(".jupyterlab-sidecar .ais-chat")
    revealed = tab_chat.locator(".ais-message.ais-revealed")
    revealed.wait_for()
    assert "how much rain falls in Bergen?" in revealed.inner_text()  # its branch was checked out to show it
    assert revealed.evaluate("(e) => { const r = e.getBoundingClientRect(), l = e.closest('[role=log]')"
                             ".getBoundingClientRect(); return r.top >= l.top && r.bottom <= l.bottom; }")
    shots(page, tab_chat, "chat-revealed")
    assert kernel_value(nb, "a.messages[0].content") == "'how much rain falls in Bergen?'"
