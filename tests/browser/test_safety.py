"""Hostile model output in a real browser: nothing executes, links are safe, remote images wait for a click,
and no key reaches the widget state or the saved notebook."""

from __future__ import annotations

import json

import pytest

from .lab import FAKE_SECRET
from .notebook import shot

pytestmark = pytest.mark.browser


def test_hostile_markdown_is_neutralised(page, lab, notebook):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    nb = notebook("xss.ipynb")
    cell = nb.run('import ai_sessions\ns = ai_sessions.hub().session("xss", model="fake:hostile")\ns.chat()')
    chat = cell.locator(".ais-chat")
    box = chat.get_by_role("textbox", name="Message")
    box.fill("Write the report")
    box.press("Enter")
    reply = chat.locator('[data-role="assistant"][data-status="complete"]')
    reply.get_by_text("Done.").wait_for()
    body = reply.locator(".ais-message-body")
    reply.hover()  # a mouseover handler, if one had survived, would fire now

    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []
    assert body.locator("script, iframe, svg, object, embed, form, style").count() == 0
    for attrs in body.locator("*").evaluate_all("els => els.map(e => e.getAttributeNames().join(' '))"):
        assert not any(name.startswith("on") or name == "style" for name in attrs.split()), attrs
    for link in body.locator("a").all():
        href = link.get_attribute("href")
        if href is None:
            continue
        assert href.startswith("http"), href
        assert link.get_attribute("target") == "_blank"
        assert link.get_attribute("rel") == "noopener noreferrer"
    assert body.get_by_role("link", name="safe link").get_attribute("href") == f"{lab.fake.base}/page"
    assert body.get_by_role("link", name="click me").count() == 0  # the javascript: link lost its href

    # the remote image was not fetched; it is fetched only when the user asks
    assert not lab.fake.got("/evil.png")
    assert not any("/evil.png" in url for url in requested)
    load = body.get_by_role("button", name="Load image “tracker” from 127.0.0.1")
    shot(chat, "chat-hostile")
    with page.expect_request(lambda r: r.url.endswith("/evil.png")):
        load.click()
    assert body.locator("img[src$='/evil.png']").get_attribute("referrerpolicy") == "no-referrer"
    assert page.evaluate("() => window.__pwned") is None

    # W8: no key in the widget's synced state nor in the saved notebook
    state = nb.run("import json\nprint('SECRET' in json.dumps(s.chat().get_state(), default=str))")
    assert nb.output_text(state).strip() == "False"
    nb.save()
    saved = (lab.root / "xss.ipynb").read_text()
    assert FAKE_SECRET not in saved
    widget_state = json.loads(saved)["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
    assert "SECRET" not in json.dumps(widget_state)
