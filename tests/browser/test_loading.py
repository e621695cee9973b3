"""Where the chat's code comes from: a Jupyter server without ai_sessions' extension (one from another
environment, or VS Code's kernel-only set-up) still shows live chats, with their code and styles (math fonts
included) sent by the kernel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .notebook import Notebook, shot
from .test_connection import send

pytestmark = pytest.mark.browser


@pytest.fixture
def bare_page(browser: Any, lab_without_extension: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=lab_without_extension.url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_a_server_without_the_extension_gets_the_chat_from_the_kernel(bare_page, lab_without_extension):
    page, lab = bare_page, lab_without_extension
    responses: list[tuple[str, int]] = []
    page.on("response", lambda r: responses.append((r.url, r.status)) if "/ai-sessions/static/" in r.url else None)
    nb = Notebook(page, lab, "bare.ipynb").open()
    try:
        chat = nb.run('import ai_sessions\ns = ai_sessions.hub().session("bare", model="fake:echo")\ns.chat()').locator(
            ".ais-chat")
        send(chat, "The identity $e^{i\\pi} + 1 = 0$ holds.")
        chat.locator(".ais-assistant .katex").wait_for()
        assert [status for _, status in responses] == [404]  # asked the server once, then the kernel
        # the math font came inlined with the styles
        assert page.evaluate("async () => { await document.fonts.ready;"
                             " return [...document.fonts].some(f => f.family.includes('KaTeX_Main')"
                             " && f.status === 'loaded'); }")
        shot(chat, "chat-from-kernel")
    finally:
        lab.shutdown_kernels_of("bare.ipynb")


def test_the_server_serves_the_chat_once_per_page_with_its_fonts_as_files(page, lab, notebook):
    responses: list[tuple[str, int]] = []
    page.on("response", lambda r: responses.append((r.url, r.status)) if "/ai-sessions/static/" in r.url else None)
    nb = notebook("served.ipynb")
    nb.run('import ai_sessions\ns = ai_sessions.hub().session("served", model="fake:echo")')
    first = nb.run("s.chat()").locator(".ais-chat")
    second = nb.run("s.chat()").locator(".ais-chat")
    send(first, "The identity $e^{i\\pi} + 1 = 0$ holds.")
    second.locator(".ais-assistant .katex").wait_for()
    page.wait_for_function("async () => { await document.fonts.ready; return [...document.fonts].some("
                           "f => f.family.includes('KaTeX_Main') && f.status === 'loaded'); }")
    names = sorted(url.split("/ai-sessions/static/")[1].split("?")[0] for url, status in responses if status == 200)
    assert names[:2] == ["chat-impl.js", "chat.css"], names  # once for both chats
    assert names[2:] and all(n.startswith("fonts/KaTeX_") and n.endswith(".woff2") for n in names[2:]), names
    assert len(names) == len(set(names))
