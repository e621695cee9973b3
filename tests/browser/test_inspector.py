"""The inspector in a real JupyterLab: a lane per reply and a switch marker, live while a reply streams,
keyboard-reachable with its card, opened from the hub panel and a chat's header; the chat's Auto entry.
Light and dark screenshots land in test-artifacts/."""

from __future__ import annotations

import pytest

from .notebook import Notebook, shot

pytestmark = pytest.mark.browser

SETUP = ('import ai_sessions\nhub = ai_sessions.hub()\ns = hub.session("insp", model="fake:echo")\n'
         's.send("first question")\ns.switch_model("fake:steady", reason="compare a slower model")\n'
         's.send("second question")\n')


def inspector_cell(nb: Notebook, code: str) -> object:
    cell = nb.run(code)
    view = cell.locator(".ais-inspector")
    view.wait_for()
    return view


def lane_width(page, selector: str) -> float:
    return page.evaluate(f"() => {{ const r = document.querySelector({selector!r}); "
                         "return r ? r.getBBox().width : 0; }")


def test_inspector_draws_lanes_and_a_switch_and_follows_a_live_reply(page, lab, notebook):
    nb = notebook("inspector.ipynb")
    view = inspector_cell(nb, SETUP + "s.inspect()")
    lanes = view.get_by_role("list", name="Replies on a time axis").locator("li.ais-lane")
    lanes.nth(1).wait_for()
    assert lanes.count() == 2
    assert lanes.first.locator(".ais-lane-label").inner_text() == "#2 echo"
    assert lanes.nth(1).locator(".ais-lane-label").inner_text() == "#4 steady"
    assert lanes.first.get_attribute("data-status") == "complete"
    # waiting for the first token and streaming are drawn apart
    assert lanes.nth(1).locator("rect.ais-seg-waiting").count() == 1
    assert lanes.nth(1).locator("rect.ais-seg-streaming").count() == 1
    flags = view.locator(".ais-switch-flag")
    assert flags.count() == 1
    assert "fake:echo → fake:steady" in flags.first.get_attribute("aria-label")
    assert lanes.first.locator("line.ais-switch-line").count() == 1
    totals = view.get_by_role("table", name="Totals per model")
    assert totals.locator("tbody tr").count() == 2
    assert totals.get_by_role("rowheader", name="fake:echo").is_visible()

    # keyboard: the switch marker is a button; Tab goes on to the lanes (one tab stop); arrows move
    flags.first.focus()
    card = view.get_by_role("tooltip")
    card.get_by_text("compare a slower model").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('ais-lane')")
    page.keyboard.press("Home")
    card.get_by_text("Reply #2 · complete").wait_for()
    page.keyboard.press("ArrowDown")
    card.get_by_text("Reply #4 · complete").wait_for()
    assert "First token" in card.inner_text()
    assert page.evaluate("() => [...document.querySelectorAll('.ais-inspector li.ais-lane')]"
                         ".filter((l) => l.tabIndex === 0).length") == 1
    shot(view, "inspector-light")

    # a reply streaming now: its lane appears and grows while it streams
    nb.run('s.switch_model("fake:slow")\nh = s.submit("keep going")')
    live = view.locator("li.ais-lane-live")
    live.wait_for()
    live.locator("rect.ais-seg-streaming").wait_for()
    first = lane_width(page, ".ais-lane-live rect.ais-seg-streaming")
    page.wait_for_function(
        "(w) => { const r = document.querySelector('.ais-lane-live rect.ais-seg-streaming');"
        " return r && r.getBBox().width > w + 5; }", arg=first)
    assert view.locator(".ais-switch-flag").count() == 2
    shot(view, "inspector-live")
    nb.run("s.cancel()")
    view.locator('li.ais-lane[data-status="stopped"]').wait_for()
    assert view.locator("li.ais-lane-live").count() == 0
    assert lanes.count() == 3

    try:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        lanes.nth(1).focus()
        card.wait_for()
        shot(view, "inspector-dark")
        colors = page.evaluate("""() => {
          const s = (sel) => getComputedStyle(document.querySelector(sel));
          return [s('.ais-inspector').backgroundColor, s('.ais-inspector .ais-lane-label').color,
                  s('.ais-inspector rect.ais-seg-streaming').fill, s('.ais-inspector rect.ais-seg-waiting').fill];
        }""")
        assert len(set(colors)) == 4, colors  # background, text, streaming and waiting all differ
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


def test_inspect_from_the_panel_and_the_chat_header(page, lab, notebook):
    nb = notebook("inspect-open.ipynb")
    nb.run('import ai_sessions\nhub = ai_sessions.hub()\nhub.session("seen", model="fake:echo").send("hello")')
    panel = nb.run("hub.panel()").locator(".ais-panel")
    panel.wait_for()
    panel.get_by_role("button", name="Inspect seen").click()
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Inspect seen")
    tab.wait_for()
    inspector = page.locator(".jupyterlab-sidecar .ais-inspector")
    inspector.locator("li.ais-lane").first.wait_for()
    assert inspector.locator(".ais-title").inner_text() == "Inspector · seen"
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    inspector.wait_for(state="detached")

    chat = nb.run('hub.get("seen").chat()').locator(".ais-chat")
    chat.wait_for()
    chat.get_by_role("button", name="Inspect this session").click()
    page.locator(".jupyterlab-sidecar .ais-inspector li.ais-lane").first.wait_for()


def test_the_chat_offers_auto_and_marks_its_choice(page, lab, notebook):
    nb = notebook("auto.ipynb")
    cell = nb.run('import ai_sessions\ns = ai_sessions.hub().session("picky", model="auto")\ns.chat()')
    chat = cell.locator(".ais-chat")
    chat.wait_for()
    select = chat.get_by_role("combobox", name="Model")
    assert select.input_value() == "auto"
    auto = select.locator('option[value="auto"]')
    assert auto.inner_text() == "Auto" and "fake:echo, fake:steady" in auto.get_attribute("title")
    assert "fake:echo, fake:steady" in select.get_attribute("title")
    box = chat.get_by_role("textbox", name="Message")
    box.fill("pick for me")
    box.press("Enter")
    reply = chat.locator('[data-role="assistant"][data-status="complete"]')
    reply.get_by_text("Echo: pick for me").wait_for()
    assert reply.locator(".ais-badge").inner_text() == "echo"
    divider = chat.get_by_role("separator").filter(has_text="switched to echo")
    divider.wait_for()
    assert "auto: first candidate" in divider.get_attribute("title")
    shot(chat, "chat-auto")
