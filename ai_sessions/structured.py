"""Structured output inside a turn or a batch item: the request field, the capability check made before
anything is sent, and validating the reply with one repair round.

The repair round shows the model its own reply and what is wrong with it (a user turn); if the second
reply does not validate either, :class:`~ai_sessions.schemas.InvalidOutput` says why, keeping the raw text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import AiSessionsError
from .parts import StructuredPart
from .providers.base import ResponseFormat
from .schemas import InvalidOutput, OutputSchema, repair_prompt
from .settings import AUTO

if TYPE_CHECKING:
    from .catalogue import ModelCatalogue

#: ``repair(prompt)``: run one more round with ``prompt`` as a user turn after the bad reply; its text.
Repair = Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class Settled:
    """A validated reply: the part to store, the value for the caller, and the text it came from."""

    part: StructuredPart
    value: Any
    text: str
    repaired: bool


def response_format(out: OutputSchema) -> ResponseFormat:
    """The request's ``response_format`` for ``out``."""
    return ResponseFormat(out.name, out.json_schema, out.strict)


def require_capable(catalogue: ModelCatalogue, full_model: str) -> None:
    """Refuse, before anything is sent, a model that cannot be asked for structured output."""
    if not catalogue.capabilities(full_model).structured_output:
        raise AiSessionsError(f"{full_model} cannot be asked for structured output (schema=...)",
                              hint="use a model that can (OpenAI, Anthropic, Gemini, local:smollm2), or declare "
                                   "capabilities = { structured_output = true } for an OpenAI-compatible server")


async def settle(out: OutputSchema, text: str, repair: Repair, *, provider: str = "") -> Settled:
    """Validate ``text``; on failure run one repair round; raise :class:`InvalidOutput` if that fails too."""
    try:
        value, data = out.parse(text)
        return Settled(StructuredPart(data, out.name), value, text, False)
    except ValueError as first:
        problems = str(first)
    text = await repair(repair_prompt(problems))
    try:
        value, data = out.parse(text)
    except ValueError as second:
        raise InvalidOutput(f"the reply does not match the schema {out.name}: {second}", raw=text,
                            problems=str(second), provider=provider) from None
    return Settled(StructuredPart(data, out.name), value, text, True)


def prepare_output(params: dict[str, Any], catalogue: ModelCatalogue, full_model: str) -> OutputSchema | None:
    """Turn ``params["schema"]`` into an :class:`OutputSchema` in place (checked once, before anything is
    sent), refusing a model that cannot return structured output."""
    from .schemas import output_schema

    spec = params.get("schema")
    if spec is None:
        params.pop("schema", None)
        return None
    out = output_schema(spec)
    if full_model != AUTO:  # model="auto" passes over candidates that cannot (ai_sessions.auto)
        require_capable(catalogue, full_model)
    params["schema"] = out
    return out


def format_of(params: dict[str, Any]) -> ResponseFormat | None:
    """The ``response_format`` for request parameters prepared by :func:`prepare_output`."""
    out = params.get("schema")
    return response_format(out) if isinstance(out, OutputSchema) else None
