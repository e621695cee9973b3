"""``{placeholder}`` templates as used by ``%%ai_session`` cells and ``Session.map``: ``str.format``
syntax, where ``{{`` is a literal brace and a field may reach into its value (``{df.shape[0]}``)."""

from __future__ import annotations

import re
import string

from .errors import AiSessionsError

_FIELD = re.compile(r"\w*(\.\w+|\[[^\]]*\])*")
_QUOTED_INDEX = re.compile(r"\[\s*(['\"])(.*?)\1\s*\]")


def placeholder_fields(template: str, *, hint: str = "write {{ and }} for literal braces") -> list[str]:
    """The fields of ``template`` in order (``"{a} {b.c}"`` → ``["a", "b.c"]``); a field that is not a
    name with ``.attribute`` / ``[index]`` steps (a call, an expression, a quoted key) is a clear error."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise AiSessionsError(f"the template has unbalanced braces ({exc})", hint=hint) from None
    for field in fields:
        if _QUOTED_INDEX.search(field):
            unquoted = _QUOTED_INDEX.sub(lambda m: f"[{m.group(2)}]", field)
            raise AiSessionsError(f"the placeholder {{{field}}} quotes its key",
                                  hint=f"placeholders follow str.format, where keys take no quotes: write "
                                       f"{{{unquoted}}}")
        if not _FIELD.fullmatch(field):
            raise AiSessionsError(f"the placeholder {{{field}}} is an expression; placeholders are not evaluated",
                                  hint=f"compute it into a variable first (e.g. n = len(items)) and write {{n}}; "
                                       f"or {hint}")
    return fields


def field_root(field: str) -> str:
    """The variable a field starts from: ``"df.shape[0]"`` → ``"df"``; ``""`` for ``{}``."""
    for i, ch in enumerate(field):
        if ch in ".[":
            return field[:i]
    return field


def fixed_prefix(template: str) -> str:
    """The literal text of ``template`` before its first placeholder, braces unescaped: the same for every
    input, so a map's prompts share it (the part providers can cache). ``""`` if it starts with a field."""
    literals = []
    for literal, field, _, _ in string.Formatter().parse(template):  # ``{{`` splits the literal text
        literals.append(literal)
        if field is not None:
            return "".join(literals)
    return ""
