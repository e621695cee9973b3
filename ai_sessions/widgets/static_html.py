"""The chat's static copy: its conversation as small, escaped HTML for the cell output's ``text/html``.

Where no widget renders (an HTML export, a viewer without the widget manager) the output shows this
instead of a blank. It is the conversation when the chat was displayed: updating a displayed output would
rebuild the live chat view under the user's hands. Everything is escaped (no markup from a model reaches
it) and markdown stays as written, which reads fine as text. Long conversations keep their last messages.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

#: Text kept in the static copy (the latest messages; earlier ones are counted, not shown).
MAX_CHARS = 12_000
_STATUS = {"stopped": "stopped", "failed": "failed", "interrupted": "interrupted", "streaming": "unfinished"}


def conversation_html(name: str, messages: Sequence[dict[str, Any]]) -> str:
    """``messages`` (the chat's ``messages`` trait) as a small HTML fragment."""
    shown: list[str] = []
    budget = MAX_CHARS
    for message in reversed(messages):
        content = str(message.get("content") or "")
        if budget <= 0 or (shown and len(content) > budget):
            break
        if len(content) > budget:
            content = content[:budget] + "…"
        budget -= len(content)
        shown.append(_message(message, content))
    hidden = len(messages) - len(shown)
    parts = [f"<p><strong>AI chat “{html.escape(name or 'chat')}”</strong> ({len(messages)} messages)</p>"]
    if hidden:
        parts.append(f"<p><em>{hidden} earlier messages not shown.</em></p>")
    parts.extend(reversed(shown))
    return f'<div class="ais-static">{"".join(parts)}</div>'


def _message(message: dict[str, Any], content: str) -> str:
    who = "You" if message.get("role") == "user" else html.escape(str(message.get("model") or "Assistant"))
    status = _STATUS.get(str(message.get("status")), "")
    note = f" <em>({status})</em>" if status else ""
    return (f'<div><p><strong>{who}</strong>{note}</p>'
            f'<div style="white-space: pre-wrap">{html.escape(content)}</div></div>')
