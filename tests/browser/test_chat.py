"""The chat in a real JupyterLab: streaming on the embedded model, progress, stop, model switch, tab sync,
hub panel, reload from the saved notebook, dark theme."""

from __future__ import annotations

import re

import pytest

from .lab import FAKE_SECRET
from .notebook import Notebook, shot

pytestmark = pytest.mark.browser

LONG = 90_000  # ms: a reply from the local model on a busy 2-core machine

# Records every state the progress bar of the first chat on the page goes through.
WATCH_PROGRESS = """
() => {
  const bar = document.querySelector('.ais-chat [role=progressbar]');
  window.__progress = [];
  new MutationObserver(() => {
    if (!bar.hidden) window.__progress.push(bar.getAttribute('aria-valuetext') || '');
  }).observe(bar, { attributes: true, subtree: true, childList: true, characterData: true });
}
"""


def chat_cell(nb: Notebook, setup: str) -> tuple[object, object]:
    cell = nb.run(setup)
    chat = cell.locator(".ais-chat")
    chat.wait_for()
    return cell, chat


def send(chat: object, text: str) -> None:
    box = chat.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def test_chat_streams_a_reply_from_the_local_model(page, lab, notebook):
    nb = notebook("local.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("analysis", max_tokens=48)\ns.chat()')
    log = chat.get_by_role("log")
    assert chat.get_by_role("combobox", name="Model").input_value() == "local:smollm2"
    page.evaluate(WATCH_PROGRESS)
    send(chat, "Say hello in one short sentence.")
    user = log.locator('[data-role="user"]')
    user.wait_for()
    reply = log.locator('[data-role="assistant"][data-status="complete"]')
    reply.wait_for(timeout=LONG)
    assert user.inner_text().endswith("Say hello in one short sentence.")
    assert reply.locator(".ais-message-body").inner_text().strip(), "empty reply"
    assert reply.locator(".ais-badge").inner_text() == "smollm2"
    states = page.evaluate("window.__progress")
    assert any(s.startswith("waiting for first token") for s in states), states
    assert any(s.startswith("streaming") for s in states), states
    assert chat.get_by_role("progressbar", name="Reply progress").is_hidden()
    assert chat.get_by_role("button", name="Send", exact=True).is_visible()
    reply.hover()
    reply.get_by_role("button", name="Copy reply 1").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() and copied.split()[0] in reply.locator(".ais-message-body").inner_text()
    shot(chat, "chat-local-reply")


def test_progress_stop_and_model_switch(page, lab, notebook):
    nb = notebook("stop.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("long", model="fake:slow")\ns.chat()')
    send(chat, "Tell me everything.")
    progress = chat.get_by_role("progressbar", name="Reply progress")
    progress.wait_for()
    page.wait_for_function(
        "() => /^streaming · .* · \\d+ tokens · [\\d.]+ tok\\/s/.test("
        "document.querySelector('.ais-chat [role=progressbar]').getAttribute('aria-valuetext'))")
    chat.locator('[data-role="assistant"][data-status="streaming"]').get_by_text("tick 3").wait_for()
    shot(chat, "chat-streaming")
    chat.get_by_role("button", name="Stop", exact=True).click()
    stopped = chat.locator('[data-role="assistant"][data-status="stopped"]')
    stopped.wait_for()
    assert stopped.locator(".ais-status").inner_text() == "stopped"
    assert "tick 1" in stopped.inner_text()
    assert progress.is_hidden()
    shot(chat, "chat-stopped")

    select = chat.get_by_role("combobox", name="Model")
    assert "slow" in (select.get_attribute("title") or "") and "fake" in (select.get_attribute("title") or "")
    # providers without a key are listed but disabled, with the reason
    assert select.locator('optgroup[label^="anthropic"] option:not([disabled])').count() == 0
    assert "no API key" in select.locator('optgroup[label^="anthropic"]').get_attribute("label")
    select.select_option("fake:echo")
    chat.get_by_role("separator").get_by_text("switched to echo").wait_for()
    box = chat.get_by_role("textbox", name="Message")
    box.fill("after")
    box.press("Shift+Enter")  # a new line, not a send
    box.press_sequentially("the switch")
    box.press("Enter")
    echo = chat.locator('[data-role="assistant"][data-status="complete"]')
    echo.get_by_text("Echo: after the switch").wait_for()
    assert chat.locator('[data-role="user"]').last.locator(".ais-user-text").inner_text() == "after\nthe switch"
    assert echo.locator(".ais-badge").inner_text() == "echo"
    assert select.input_value() == "fake:echo"
    shot(chat, "chat-switched")


def test_chat_updates_while_a_cell_runs(page, lab, notebook):
    nb = notebook("busy.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("busy", model="fake:slow")\ns.chat()')
    running = nb.run('s.send("Keep going")', wait=False)  # blocks the kernel until interrupted
    running.locator(".jp-InputPrompt", has_text="[*]").wait_for()
    reply = chat.locator('[data-role="assistant"][data-status="streaming"]')
    reply.get_by_text("tick 5").wait_for()  # streamed from the hub thread while the cell runs
    assert running.locator(".jp-InputPrompt", has_text="[*]").count() == 1
    nb.interrupt()  # interrupting the kernel stops the reply and keeps its text
    chat.locator('[data-role="assistant"][data-status="stopped"]').wait_for()
    running.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).wait_for()  # the cell has ended
    # a batch run (the batch contract's events, emitted here by hand) shows in the same bar
    nb.run('from ai_sessions import Event, EventKind\n'
           'batch = {"completed": 3, "failed": 1, "total": 10, "active": "row 5", "done": False}\n'
           'ai_sessions.hub()._emit(Event(EventKind.SESSION_UPDATED, s.id, {"batch": batch}))')
    progress = chat.get_by_role("progressbar", name="Reply progress")
    progress.wait_for()
    page.wait_for_function("() => document.querySelector('.ais-chat [role=progressbar]')"
                           ".getAttribute('aria-valuetext') === 'batch 3/10 · 1 failed · now: row 5'")
    assert progress.get_attribute("aria-valuenow") == "4" and progress.get_attribute("aria-valuemax") == "10"
    shot(chat, "chat-batch")
    nb.run('batch.update(completed=9, done=True)\n'
           'ai_sessions.hub()._emit(Event(EventKind.SESSION_UPDATED, s.id, {"batch": batch}))')
    progress.wait_for(state="hidden")
    # and a real batch run over the fake server
    page.evaluate(WATCH_PROGRESS)
    cell = nb.run('s.switch_model("fake:steady")\n'
                  'print(s.submit_map("Say {x}", ["one", "two", "three"], concurrency=1).result(30))')
    assert nb.output_text(cell).strip() == "['Echo: Say one', 'Echo: Say two', 'Echo: Say three']"
    progress.wait_for(state="hidden")
    assert any(state.startswith("batch ") for state in page.evaluate("window.__progress"))


def test_cells_and_tab_stay_in_step(page, lab, notebook):
    nb = notebook("tabs.ipynb")
    _, first = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("shared", model="fake:echo")\ns.chat()')
    _, second = chat_cell(nb, "s.chat()")
    nb.run("tab = s.open_tab()")
    tab = page.locator(".jupyterlab-sidecar .ais-chat")
    tab.wait_for()
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="shared").wait_for()
    send(tab, "typed in the tab")
    for view in (tab, first, second):  # the cells are behind the tab: attached, not visible
        view.locator('[data-role="assistant"][data-status="complete"]').get_by_text(
            "Echo: typed in the tab").wait_for(state="attached")
    shot(page, "chat-tab")
    # close the tab: the kernel hears of it, the session and its history stay
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="shared").locator(
        ".lm-TabBar-tabCloseIcon").click()
    tab.wait_for(state="detached")
    cell = nb.run("print(tab.is_open, len(s.messages), s.status.value)")
    assert nb.output_text(cell).split() == ["False", "2", "idle"]
    second.get_by_text("Echo: typed in the tab").wait_for()
    send(first, "still here")
    second.get_by_text("Echo: still here").wait_for()
    shot(page, "chat-two-cells")


def test_hub_panel(page, lab, notebook):
    nb = notebook("panel.ipynb")
    nb.run('import ai_sessions\nhub = ai_sessions.hub()\n'
           'hub.session("alpha", model="fake:echo").send("first question")\n'
           'beta = hub.session("beta", model="fake:echo")')
    cell = nb.run("hub.panel()")
    panel = cell.locator(".ais-panel")
    panel.wait_for()
    rows = panel.get_by_role("table", name="Sessions")
    rows.locator('tr[data-session]').nth(1).wait_for()
    alpha = rows.locator("tr", has=page.get_by_role("rowheader", name="alpha"))
    assert alpha.locator("td").nth(2).inner_text() == "2"  # messages
    assert alpha.locator("td").nth(0).inner_text() == "echo"  # model
    assert re.match(r"2 sessions · 0 streaming · [\d,]+ tokens", panel.locator(".ais-panel-summary").inner_text())
    # a session with no chat on screen finishes: the panel says so
    nb.run('beta.submit("background work").result(30)')
    notice = panel.get_by_role("status").get_by_text("“beta” finished while not on screen.")
    notice.wait_for()
    shot(panel, "hub-panel")
    panel.get_by_role("button", name="Delete beta").click()
    panel.get_by_role("button", name="Confirm delete beta").click()
    rows.locator("tr", has=page.get_by_role("rowheader", name="beta")).wait_for(state="detached")
    panel.get_by_role("button", name="Open chat alpha").click()
    page.locator(".jupyterlab-sidecar .ais-chat").get_by_text("first question", exact=True).wait_for()
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="alpha").wait_for()


def test_saved_notebook_shows_the_conversation_after_reload(page, lab, notebook):
    nb = notebook("saved.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("kept", model="fake:echo")\ns.chat()')
    send(chat, "remember **this**")
    chat.get_by_text("Echo: remember this").wait_for()
    nb.save()
    saved = (lab.root / "saved.ipynb").read_text()
    assert "Echo: remember **this**" in saved, "the conversation is not in the saved widget state"
    assert FAKE_SECRET not in saved and "SECRET" not in saved
    nb.shutdown_kernel()
    page.reload()
    restored = page.locator(".ais-chat")
    restored.wait_for()
    restored.get_by_text("Echo: remember this").wait_for()
    assert restored.locator('[data-role="user"]').inner_text().endswith("remember **this**")
    shot(restored, "chat-after-reload")


def test_dark_theme(page, lab, notebook):
    nb = notebook("dark.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("themes", model="fake:echo")\ns.chat()')
    send(chat, "A table, code and math:\n\n| x | x² |\n|---|---|\n| 2 | 4 |\n\n```python\ndef square(x):\n"
               "    return x ** 2  # squared\n```\n\nThe identity $e^{i\\pi} + 1 = 0$ holds.")
    chat.locator(".ais-assistant .katex").wait_for()
    chat.locator(".ais-assistant .hljs-keyword").first.wait_for()
    chat.get_by_role("button", name="Copy python").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == "def square(x):\n    return x ** 2  # squared"
    shot(chat, "chat-light")
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        chat.hover()
        shot(chat, "chat-dark")
        background = page.evaluate("() => getComputedStyle(document.querySelector('.ais-chat')).backgroundColor")
        text = page.evaluate("() => getComputedStyle(document.querySelector('.ais-message-body')).color")
        assert _luminance(background) < 0.2 < _luminance(text), (background, text)
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


def _luminance(css_color: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css_color)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
