"""``{placeholder}`` templates as used by ``%%ai_session`` cells and ``Session.map``: ``str.format``
syntax, where ``{{`` is a literal brace and a field may reach into its value (``{df.shape[0]}``)."""

from __future__ import annotations

import string

from .errors import AiSessionsError


def placeholder_fields(template: str, *, hint: str = "write {{ and }} for literal braces") -> list[str]:
    """The fields of ``template`` in order (``"{a} {b.c}"`` → ``["a", "b.c"]``)."""
    try:
        return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise AiSessionsError(f"the template has unbalanced braces ({exc})", hint=hint) from None


def field_root(field: str) -> str:
    """The variable a field starts from: ``"df.shape[0]"`` → ``"df"``; ``""`` for ``{}``."""
    for i, ch in enumerate(field):
        if ch in ".[":
            return field[:i]
    return field
