"""What a map will cost, before anything is sent: ``s.map(..., dry_run=True)``, and the estimate every batch
job records (and compares with ``[batch] confirm_above_usd``).

Input tokens: where the provider has a token-count endpoint (Anthropic ``messages.count_tokens``, Gemini
``models.countTokens``), up to :data:`SAMPLE` requests spread over the items are counted exactly and the
rest scaled by their length; elsewhere (OpenAI, OpenAI-compatible servers, the embedded model) a request's
text counts one token per :data:`CHARS_PER_TOKEN` characters, plus :data:`TOKENS_PER_TURN` per turn.
Output tokens are assumed: with a schema, :data:`TOKENS_PER_FIELD` per top-level field (at most
``max_tokens``); without one, ``max_tokens`` per item (an upper bound). The cost prices those tokens with
genai-prices (batch jobs at the Batch API's discount), without counting prompt-cache savings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .errors import AiSessionsError
from .model import Usage
from .parts import TextPart

if TYPE_CHECKING:
    from .providers.base import ChatRequest
    from .providers.batch_api import BatchService
    from .runtime import Runtime
    from .schemas import OutputSchema

log = logging.getLogger(__name__)
SAMPLE = 16
#: Token-count requests at once (the endpoints have rate limits of their own).
COUNT_CONCURRENCY = 4
CHARS_PER_TOKEN = 4
TOKENS_PER_TURN = 4
TOKENS_PER_FIELD = 20
DEFAULT_OUTPUT = 1024


@dataclass(frozen=True)
class Estimate:
    """What a map is expected to use and cost. ``cost`` is None when the model's price is unknown."""

    model: str
    mode: str
    items: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    method: str  # how input tokens were found
    counted: int = 0  # requests counted by the provider's endpoint
    prefix_tokens: int = 0  # per item: the shared prefix (system prompt, template text) providers can cache
    price_factor: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        cost = "cost unknown" if self.cost is None else f"≈ ${self.cost:,.2f}"
        return (f"{self.items:,} items on {self.model} ({self.mode}): ≈ {self.input_tokens:,} input + "
                f"{self.output_tokens:,} output tokens, {cost}")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"Estimate: {self}\n  input tokens: {self.method}\n  output tokens: assumed (see docs/batch.md)")


def chars_of(request: ChatRequest) -> int:
    """The characters of a request's text: system prompt, turns, schema."""
    total = len(request.system or "")
    for turn in request.turns:
        total += sum(len(p.text) for p in turn.parts if isinstance(p, TextPart))
    if request.response_format is not None:
        total += len(json.dumps(request.response_format.schema))
    return total


def rule_tokens(request: ChatRequest) -> int:
    """Input tokens by the documented rule (characters / 4, plus 4 per turn)."""
    return math.ceil(chars_of(request) / CHARS_PER_TOKEN) + TOKENS_PER_TURN * (len(request.turns) + 1)


def assumed_output(output: OutputSchema | None, max_tokens: int | None) -> int:
    """Output tokens assumed per item."""
    limit = max_tokens or DEFAULT_OUTPUT
    if output is None:
        return limit
    return min(limit, TOKENS_PER_FIELD * max(1, len(output.fields)))


async def estimate(runtime: Runtime, full_model: str, mode: str, requests: Sequence[ChatRequest],
                   output: OutputSchema | None, service: BatchService | None, prefix_chars: int = 0,
                   count: bool = True) -> Estimate:
    """(hub loop) The estimate of sending ``requests`` (one per item) to ``full_model``. With ``count`` and
    a provider token-count endpoint, a sample is counted exactly and the rest scaled."""
    rule = [rule_tokens(r) for r in requests]
    input_tokens, method, counted = sum(rule), (f"estimated at 1 token per {CHARS_PER_TOKEN} characters "
                                                f"+ {TOKENS_PER_TURN} per turn"), 0
    if count and service is not None and requests:
        step = max(1, len(requests) // SAMPLE)
        sample = list(range(0, len(requests), step))[:SAMPLE]
        gate = asyncio.Semaphore(COUNT_CONCURRENCY)

        async def count_one(request: ChatRequest) -> int | None:
            async with gate:
                return await service.count_tokens(request)

        try:
            exact = await asyncio.gather(*(count_one(requests[i]) for i in sample))
        except AiSessionsError as error:
            log.info("token counting failed, estimating instead: %s", error)
            method += f" (the provider's token count failed: {error.message})"
        else:
            if all(n is not None for n in exact):
                ratio = sum(exact) / max(1, sum(rule[i] for i in sample))  # type: ignore[misc]
                input_tokens = round(ratio * sum(rule))
                counted = len(sample)
                method = ("counted by the provider" if counted == len(requests) else
                          f"{counted} requests counted by the provider, the rest scaled by their length")
    max_tokens = requests[0].max_tokens if requests else None
    output_tokens = assumed_output(output, max_tokens) * len(requests)
    factor = service.price_factor if mode == "batch" and service is not None else 1.0
    cost = runtime.catalogue.cost(full_model, Usage(input_tokens, output_tokens))
    return Estimate(full_model, mode, len(requests), input_tokens, output_tokens,
                    None if cost is None else cost * factor, method, counted,
                    math.ceil(prefix_chars / CHARS_PER_TOKEN), factor)


def confirm(estimate: Estimate, threshold: float | None, *, ask: bool) -> None:
    """Ask before a job estimated above ``threshold`` USD (in a notebook: ``ask``); a "no" sends nothing."""
    if threshold is None or estimate.cost is None or estimate.cost <= threshold or not ask:
        return
    answer = input(f"{estimate}: above [batch] confirm_above_usd = {threshold:g}. Send it? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise AiSessionsError("the job was not sent (not confirmed)",
                              hint="see what it would cost with dry_run=True; raise [batch] confirm_above_usd in "
                                   "settings to be asked less")



def from_dict(data: dict[str, Any] | None) -> Estimate | None:
    """An estimate as stored with its job."""
    if not data:
        return None
    known = set(Estimate.__dataclass_fields__)
    return Estimate(**{k: v for k, v in data.items() if k in known})
