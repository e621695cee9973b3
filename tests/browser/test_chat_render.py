"""The chat as users found it (issue 10), in a real JupyterLab: radicals, long code lines, the log's scroll
position after a reload / tab switch / split view, the hub panel in a narrow output, empty states and the
batch summary, keyboard navigation of the log, the retry state of the progress bar, fallback dividers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from .notebook import _FIND_PANEL, Notebook, shot
from .test_chat import chat_cell, send

pytestmark = pytest.mark.browser

# The newest message sits at the bottom of the log's box (whatever the scroll origin), and there is more above.
AT_BOTTOM = """
(log) => {
  const box = log.getBoundingClientRect();
  const last = [...log.querySelectorAll('article')].pop().getBoundingClientRect();
  return log.scrollHeight > log.clientHeight + 50 && last.bottom <= box.bottom + 1 && last.bottom > box.bottom - 24;
}
"""

# What JupyterLab does to a cell it windows out and back (and Lumino to a moved panel): detach, re-attach.
REATTACH = """
(id) => {
  const cell = document.querySelector(`#${id} .ais-chat`).closest('.jp-Cell');
  const parent = cell.parentNode, next = cell.nextSibling;
  parent.removeChild(cell);
  parent.insertBefore(cell, next);
}
"""


@contextmanager
def dark_theme(page: Any) -> Iterator[None]:
    """JupyterLab's dark theme for the block, the light one after it."""
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    try:
        yield
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


def shots(page: Any, target: Any, name: str) -> None:
    """Screenshots of ``target`` in the light and the dark theme."""
    shot(target, f"{name}-light")
    with dark_theme(page):
        shot(target, f"{name}-dark")


def focused_name(page: Any) -> str:
    return page.evaluate("() => { const e = document.activeElement;"
                         " return e.getAttribute('aria-label') || e.textContent.trim().slice(0, 40); }")


def test_radicals_and_long_code_lines(page, lab, notebook):
    nb = notebook("render.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\ns = ai_sessions.hub().session("render", model="fake:echo")\ns.chat()')
    send(chat, r"The density has $\sigma\sqrt{2\pi}$ below and $\overrightarrow{AB}$.")
    math = chat.locator(".ais-assistant .ais-math").first
    math.wait_for()
    radical = math.locator(".katex-html svg path")
    assert radical.count() == 1, "the radical's SVG was stripped"
    box = math.locator(".katex-html svg").bounding_box()
    assert box and box["width"] > 5 and box["height"] > 5
    assert chat.locator(".ais-assistant .ais-math").nth(1).locator(".katex-html svg").count() >= 1

    code_line = "    result = compute_something(alpha, beta, gamma, delta) + another_function(epsilon, zeta) + 42"
    send(chat, f"Code:\n\n```python\ndef f():\n{code_line}\n```")
    pre = chat.locator(".ais-assistant").nth(1).locator(".ais-code pre")
    pre.wait_for()
    page.evaluate("() => { for (const c of document.querySelectorAll('.ais-chat')) c.style.width = '520px'; }")
    geometry = pre.evaluate("""pre => {
        const code = pre.querySelector('code');
        const line = parseFloat(getComputedStyle(code).lineHeight);
        return {scroll: pre.scrollWidth, client: pre.clientWidth, lines: Math.round(code.offsetHeight / line),
                whiteSpace: getComputedStyle(pre).whiteSpace};
    }""")
    assert geometry["whiteSpace"] == "pre", geometry
    assert geometry["scroll"] > geometry["client"], f"the long line wraps instead of scrolling: {geometry}"
    assert geometry["lines"] == 2, geometry
    shots(page, chat, "chat-math-code")
    wrap = chat.get_by_role("button", name="Wrap python block 1 of reply 2")
    wrap.click()
    assert wrap.get_attribute("aria-pressed") == "true"
    wrapped = pre.evaluate("pre => ({scroll: pre.scrollWidth, client: pre.clientWidth})")
    assert wrapped["scroll"] <= wrapped["client"], wrapped
    shot(chat, "chat-code-wrapped")


def _fill(nb: Notebook, name: str, count: int) -> Any:
    _, chat = chat_cell(nb, f'import ai_sessions\ns = ai_sessions.hub().session("{name}", model="fake:echo")\n'
                            f'for i in range({count}):\n    s.send(f"note {{i}}\\n\\nsecond line\\n\\nthird line")\n'
                            "s.chat()")
    chat.locator('[data-role="assistant"]').nth(count - 1).wait_for()
    return chat


def test_the_log_opens_at_the_bottom_and_follows(page, lab, notebook):
    nb = notebook("scroll.ipynb")
    _fill(nb, "scroll", 12)

    def at_bottom() -> None:
        page.wait_for_function(f"() => ({AT_BOTTOM})(document.querySelector('#{nb.panel_id} .ais-log'))",
                               timeout=5000)

    def follows(text: str) -> None:
        chat_now = page.locator(f"#{nb.panel_id} .ais-chat").first
        send(chat_now, text)
        chat_now.get_by_text(f"Echo: {text}").wait_for()
        at_bottom()

    at_bottom()
    # the cell laid out anew, as when JupyterLab windows a cell out and back in
    page.evaluate(REATTACH, nb.panel_id)
    at_bottom()
    follows("after the re-attach")

    # replies arrive while the notebook is behind another tab, then the notebook is shown again
    nb.run("tab = s.open_tab()")
    tab = page.locator(".jupyterlab-sidecar .ais-chat")
    send(tab, "typed in the tab")
    tab.get_by_text("Echo: typed in the tab").wait_for()
    page.evaluate(f"() => window.jupyterapp.shell.activateById({nb.panel_id!r})")
    at_bottom()
    follows("after the tab switch")

    # a split view: the notebook moved next to the tab
    page.evaluate(f"""() => {{
        const app = window.jupyterapp;
        const panel = [...app.shell.widgets('main')].find(w => w.id === {nb.panel_id!r});
        const side = [...app.shell.widgets('main')].find(
            w => w.node.matches('.jupyterlab-sidecar, :has(.jupyterlab-sidecar)'));
        app.shell.add(panel, 'main', {{mode: 'split-right', ref: side.id}});
    }}""")
    at_bottom()
    follows("after the split")
    shot(page, "chat-scroll-after-split")

    # a page reload: the notebook (saved with its widget state) shows the chat from the running kernel
    nb.save()
    page.reload()
    page.wait_for_function(f"() => ({_FIND_PANEL})({nb.name!r}) !== null")
    nb.panel_id = page.evaluate(f"() => ({_FIND_PANEL})({nb.name!r}).id")
    page.wait_for_function(f"() => document.querySelectorAll('#{nb.panel_id} .ais-chat article').length > 24")
    at_bottom()
    follows("after the reload")


def test_the_log_is_one_tab_stop_with_arrow_keys(page, lab, notebook):
    nb = notebook("keys.ipynb")
    chat = _fill(nb, "keys", 6)
    box = chat.get_by_role("textbox", name="Message")
    box.focus()
    path = []
    while focused_name(page) != "Regenerate" and len(path) < 30:
        page.keyboard.press("Shift+Tab")
        path.append(focused_name(page))
    # the log is one stop (its current message, then that message's own buttons), whatever its length
    expected = ["Copy reply 6", "Delete reply 6", "Reply 6 from echo", "Inspect this session", "Clear", "Regenerate"]
    assert path == expected, path
    # Tab again into the log: the newest message, then its own buttons in the order they show (Delete, Copy)
    log = chat.get_by_role("log", name="Messages")
    log.get_by_role("article", name="Reply 6 from echo").focus()
    page.keyboard.press("ArrowUp")
    assert focused_name(page) == "Message 6 (yours)"
    page.keyboard.press("Home")
    assert focused_name(page) == "Message 1 (yours)"
    page.keyboard.press("ArrowDown")
    assert focused_name(page) == "Reply 1 from echo"
    page.keyboard.press("Tab")
    assert focused_name(page) == "Delete reply 1"
    page.keyboard.press("Tab")
    assert focused_name(page) == "Copy reply 1"
    page.keyboard.press("Enter")
    assert page.evaluate("() => navigator.clipboard.readText()").startswith("Echo: note 0")
    page.keyboard.press("End")
    assert focused_name(page) == "Reply 6 from echo"
    names = log.locator(".ais-copy-message").evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
    assert len(set(names)) == 12
    shot(chat, "chat-keyboard")


def test_hub_panel_in_a_narrow_output(page, lab, notebook):
    page.set_viewport_size({"width": 600, "height": 900})
    nb = notebook("narrow.ipynb")
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # the file browser closed: a ~470 px output
    nb.run('import ai_sessions\nhub = ai_sessions.hub()\n'
           'hub.session("alpha-with-a-long-name", model="fake:echo").send("first question")\n'
           'hub.session("beta", model="fake:echo")')
    panel = nb.run("hub.panel()").locator(".ais-panel")
    panel.wait_for()
    table = panel.get_by_role("table", name="Sessions")
    table.locator("tr[data-session]").nth(1).wait_for()
    shots(page, panel, "hub-panel-narrow")

    def seen(target: Any) -> bool:
        """Is ``target`` what the user sees (and clicks) at its centre?"""
        return bool(target.evaluate("""el => {
            const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return r.width > 0 && (hit === el || el.contains(hit));
        }"""))

    assert not seen(table.get_by_role("columnheader", name="Cost"))  # off to the right at first
    # the mouse wheel scrolls the table sideways (a box that merely clips it would not move)
    table.hover()
    page.mouse.wheel(2000, 0)
    table.evaluate("t => new Promise(done => { const box = t.parentElement; const check = () =>"
                   " box.scrollLeft + box.clientWidth >= box.scrollWidth - 1 ? done() : requestAnimationFrame(check);"
                   " check(); })")
    for header in ("Cost", "Actions"):
        assert seen(table.get_by_role("columnheader", name=header)), header
    for name in ("Open chat beta", "Delete beta", "Close alpha-with-a-long-name"):
        assert seen(panel.get_by_role("button", name=name)), name
    # scrolled to its right end, the table still shows which session a row is
    assert seen(table.get_by_role("rowheader", name="beta"))
    shot(panel, "hub-panel-narrow-scrolled")
    # every column can be brought into view, clear of the sticky names
    for header in ("Tokens", "Last activity"):
        target = table.get_by_role("columnheader", name=header)
        target.evaluate("el => el.scrollIntoView({inline: 'center', block: 'nearest'})")
        assert seen(target), header
    # keyboard: a focused button scrolls into view clear of the sticky names
    table.evaluate("t => { t.parentElement.scrollLeft = 0; }")
    panel.get_by_role("button", name="Delete beta").focus()
    assert seen(panel.get_by_role("button", name="Delete beta"))


def test_empty_chat_hint_and_batch_summary(page, lab, notebook):
    nb = notebook("empty.ipynb")
    _, chat = chat_cell(nb, 'import ai_sessions\n'
                            's = ai_sessions.hub().session("batchy", model="fake:steady")\ns.chat()')
    log = chat.get_by_role("log", name="Messages")
    assert log.get_by_text("No messages yet").is_visible()
    cell = nb.run('print(s.submit_map("Say {x}", ["one", "two", "three"], concurrency=1).result(30))')
    assert "Echo: Say three" in nb.output_text(cell)
    summary = log.get_by_role("note").filter(has_text=re.compile(r"^Batch: 3/3 done, 0 failed, [\d.]+ s$"))
    summary.wait_for()
    assert log.get_by_text("batch items (s.map) are answered without entering the history").is_visible()
    shots(page, chat, "chat-batch-summary")
    send(chat, "now a chat")
    chat.get_by_text("Echo: now a chat").wait_for()
    assert log.get_by_text("No messages").count() == 0
    chat.get_by_role("button", name="Clear", exact=True).click()
    chat.get_by_role("button", name="Confirm clear").click()
    log.get_by_text("No messages").wait_for()
    assert log.locator("article").count() == 0
    shot(chat, "chat-cleared")


def test_retry_state_in_the_progress_bar(page, lab, notebook):
    nb = notebook("retry.ipynb")
    nb.run('import ai_sessions, time\ns = ai_sessions.hub().session("retry", model="fake:echo")\nw = s.chat()')
    cell = nb.run("w")
    chat = cell.locator(".ais-chat")
    chat.wait_for()
    # what the kernel sends while a reply waits out a 429 with Retry-After: 8 (the core fills it in)
    nb.run('now = time.time()\n'
           'w.progress = {"message_id": "m", "state": "retrying", "started_at": now - 1, "first_token_at": None,\n'
           '              "tokens": 0, "model": "fake:echo", "retry": {"attempt": 2, "max_attempts": 4,\n'
           '              "wait_s": 8.0, "until": now + 8, "kind": "rate_limited",\n'
           '              "reason": "429 Too Many Requests (Retry-After: 8)"}}')
    bar = chat.get_by_role("progressbar", name="Reply progress")
    bar.wait_for()
    text = bar.get_attribute("aria-valuetext") or ""
    assert re.fullmatch(r"rate limited — retrying in [5-8] s \(attempt 2 of 4\)", text), text
    assert bar.inner_text() == text
    assert chat.get_by_role("button", name="Stop", exact=True).is_visible()
    shots(page, chat.locator(".ais-header"), "chat-retrying")
    nb.run('w.progress = {**w.progress, "retry": {**w.progress["retry"], "kind": "provider_error",'
           ' "attempt": 3, "until": time.time() + 2}}')
    page.wait_for_function("() => /^provider error — retrying in [12] s \\(attempt 3 of 4\\)$/.test("
                           "document.querySelector('.ais-chat [role=progressbar]').getAttribute('aria-valuetext'))")
    nb.run("w.progress = {}")
    bar.wait_for(state="hidden")


def test_fallback_divider_hint_code_and_clear(page, lab, notebook):
    nb = notebook("divider.ipynb")
    cell, chat = chat_cell(nb, 'import ai_sessions\n'
                               's = ai_sessions.hub().session("fallback", model="fake:echo")\ns.chat()')
    send(chat, "hi")
    chat.get_by_text("Echo: hi").wait_for()
    # the reply is announced once, when it has ended (the log itself is not read token by token)
    status = cell.get_by_role("status").filter(has_text="Reply 1")
    assert status.inner_text() == "Reply 1 from echo: Echo: hi"
    assert chat.get_by_role("log").get_attribute("aria-live") == "off"
    nb.run('import warnings\nwith warnings.catch_warnings():\n    warnings.simplefilter("ignore")\n'
           '    s.switch_model("anthropic:claude-haiku-4-5")')  # no key: another model answers
    divider = chat.get_by_role("separator")
    divider.wait_for()
    assert re.fullmatch(r"switched to haiku-4-5 · \S+ answers", divider.inner_text()), divider.inner_text()
    answers = divider.inner_text().split(" · ")[1].removesuffix(" answers")
    assert "no API key for anthropic" in (divider.get_attribute("aria-label") or "")
    # the notice's hint shows its command as code
    code = chat.locator(".ais-notice code")
    code.wait_for()
    assert code.inner_text() == "%ai_session keys set anthropic"
    # the selector still lists Azure (no deployments named), disabled, with what to do
    assert chat.get_by_role("combobox", name="Model").locator('optgroup[label^="azure"]').count() == 1
    shots(page, chat, "chat-fallback-divider")
    assert answers
    chat.get_by_role("button", name="Clear", exact=True).click()
    chat.get_by_role("button", name="Confirm clear").click()
    chat.get_by_role("log").get_by_text("No messages yet").wait_for()
    assert chat.get_by_role("separator").count() == 0
