"""Chats and the hub panel that lost their kernel side (kernel restarted, notebook reopened with no kernel)
say so, render read-only and lose nothing typed; a saved notebook stays small and carries no local path."""

from __future__ import annotations

import json
import re

import pytest

from .lab import FAKE_SECRET
from .notebook import shot

pytestmark = pytest.mark.browser

DISCONNECTED = "Disconnected — run the cell again to reconnect."
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def send(chat, text: str) -> None:
    box = chat.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def dark(page, chat, name: str) -> None:
    """Screenshot ``chat`` in JupyterLab's dark theme, then back to light."""
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        shot(chat, name)
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


def assert_read_only(chat) -> None:
    chat.get_by_text(DISCONNECTED).wait_for()
    assert chat.get_attribute("data-connection") == "lost"
    assert chat.get_by_role("textbox", name="Message").is_disabled()
    for name in ("Send", "Regenerate", "Clear"):
        assert chat.get_by_role("button", name=name, exact=True).is_disabled(), name
    assert chat.get_by_role("button", name="Stop", exact=True).is_hidden()
    assert chat.get_by_role("combobox", name="Model").is_disabled()
    assert chat.get_by_role("progressbar", name="Reply progress").is_hidden()


def test_a_restarted_kernel_leaves_chats_disconnected_and_typed_text_in_place(page, lab, notebook):
    nb = notebook("restart.ipynb")
    cell = nb.run('import ai_sessions\ns = ai_sessions.hub().session("kept", model="fake:echo")\ns.chat()')
    chat = cell.locator(".ais-chat")
    send(chat, "first question")
    chat.get_by_text("Echo: first question").wait_for()
    panel = nb.run("ai_sessions.hub().panel()").locator(".ais-panel")
    panel.get_by_role("rowheader", name="kept").wait_for()

    # a busy kernel is not a lost one: while a cell runs the chat stays live (JupyterLab >= 4.4 even
    # delivers its messages at once, through a kernel subshell; older front ends queue them)
    busy = nb.run("import time\ntime.sleep(600)", wait=False)
    busy.locator(".jp-InputPrompt", has_text="[*]").wait_for()
    send(chat, "asked while busy")
    chat.locator('[data-role="user"]').get_by_text("asked while busy").wait_for()
    assert chat.get_attribute("data-connection") == "live"
    assert not chat.get_by_text(DISCONNECTED).is_visible()
    box = chat.get_by_role("textbox", name="Message")
    box.fill("a draft")

    nb.restart_kernel()
    assert_read_only(chat)
    assert box.input_value() == "a draft"  # typed text stays in the box
    assert chat.get_by_text("Echo: first question").is_visible()  # the conversation stays readable
    panel.get_by_role("status").get_by_text("Disconnected — run the cell again to reconnect.").wait_for()
    assert panel.get_attribute("data-connection") == "lost"
    assert "stale" in panel.locator(".ais-panel-summary").inner_text()
    assert all(b.is_disabled() for b in panel.get_by_role("button").all())
    shot(chat, "chat-disconnected")
    shot(panel, "hub-panel-stale")
    dark(page, chat, "chat-disconnected-dark")

    # running the cell again gives a live chat of the same session, history included
    nb.wait_idle()
    again = nb.run('import ai_sessions\ns = ai_sessions.hub().session("kept", model="fake:echo")\ns.chat()')
    fresh = again.locator(".ais-chat")
    fresh.get_by_text("Echo: first question").wait_for()
    assert fresh.get_attribute("data-connection") == "live"
    send(fresh, "after the restart")
    fresh.get_by_text("Echo: after the restart").wait_for()


def test_a_saved_notebook_is_small_and_renders_read_only_without_a_kernel(page, lab, notebook):
    nb = notebook("small.ipynb")
    nb.run("import ai_sessions\nhub = ai_sessions.hub()")
    chats = []
    for name in ("one", "two", "three"):
        chat = nb.run(f's_{name} = hub.session("{name}", model="fake:echo")\ns_{name}.chat()').locator(".ais-chat")
        send(chat, f"a short question for {name}")
        chat.get_by_text(f"Echo: a short question for {name}").wait_for()
        chats.append(chat)
    nb.run("hub.panel()").locator(".ais-panel").get_by_role("rowheader", name="three").wait_for()
    # a reply still streaming when the notebook is saved
    slow = nb.run('s_slow = hub.session("slow", model="fake:slow")\ns_slow.chat()').locator(".ais-chat")
    send(slow, "go on")
    slow.locator('[data-role="assistant"][data-status="streaming"]').get_by_text("tick 2").wait_for()
    nb.save()
    nb.run("s_slow.cancel()")

    text = (lab.root / "small.ipynb").read_text(encoding="utf-8")
    saved = json.loads(text)
    models = saved["metadata"]["widgets"][WIDGET_STATE]["state"].values()
    chat_states = [m["state"] for m in models if "messages" in m["state"]]
    assert len(chat_states) == 4
    for state in chat_states:  # each chat: its conversation + at most 16 KB
        assert len(json.dumps(state)) <= len(json.dumps(state["messages"])) + 16_000, state.get("session_name")
    conversations = sum(len(json.dumps(s["messages"])) for s in chat_states)
    assert len(text) <= conversations + 4 * 16_000 + 16_000  # the panel and the cells' own JSON included
    assert str(lab.root) not in text and str(lab.root.parent) not in text  # no absolute local path
    assert FAKE_SECRET not in text

    nb.shutdown_kernel()
    page.reload()
    restored = page.locator(".ais-chat")
    restored.nth(3).wait_for()
    for i in range(4):
        assert_read_only(restored.nth(i))
    assert restored.nth(0).get_by_text("Echo: a short question for one").is_visible()
    # the reply saved mid-way shows as interrupted, with no clock running and nothing to stop (its text so
    # far streamed as custom messages, which are not saved)
    interrupted = restored.nth(3).locator('[data-role="assistant"]')
    assert interrupted.get_attribute("data-status") == "interrupted"
    assert interrupted.get_attribute("aria-busy") == "false"
    assert restored.nth(3).locator('[data-role="user"]').inner_text().endswith("go on")
    panel = page.locator(".ais-panel")
    panel.get_by_text("Disconnected — run the cell again to reconnect.").wait_for()
    assert re.search(r"4 sessions · stale", panel.locator(".ais-panel-summary").inner_text())
    shot(restored.nth(3), "chat-saved-read-only")
    shot(panel, "hub-panel-saved-stale")
    dark(page, restored.nth(3), "chat-saved-read-only-dark")
