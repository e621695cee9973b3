"""Anthropic's Message Batches: ``messages.batches.create(requests=[{custom_id, params}])`` where ``params``
is the live Messages request without streaming; ``processing_status`` ``in_progress`` → ``canceling`` →
``ended``; the results stream as JSONL (``succeeded`` with a Message, ``errored``, ``canceled``,
``expired``). Counts move only when the batch ends (as documented). Input tokens are counted with
``messages.count_tokens``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..model import Usage
from . import anthropic_format
from .batch_api import BatchOutcome, BatchRequest, BatchService, BatchStatus
from .sdk_errors import from_status

if TYPE_CHECKING:
    from .anthropic import AnthropicProvider
    from .base import ChatRequest

#: The Message Batches API takes up to 100,000 requests (or 256 MB) per batch.
MAX_REQUESTS = 100_000


class AnthropicBatches(BatchService):
    """``anthropic:MODEL`` jobs through Message Batches."""

    max_requests = MAX_REQUESTS
    provider: AnthropicProvider

    def params(self, request: ChatRequest) -> dict[str, Any]:
        """The Messages params of one request (the live request without streaming)."""
        params = self.provider.request_args(request)
        params.pop("stream", None)
        params.update(params.pop("extra_body", None) or {})
        return params

    async def submit(self, requests: Sequence[BatchRequest], *, label: str) -> str:
        entries = [{"custom_id": r.custom_id, "params": self.params(r.request)} for r in requests]
        failure = None
        try:
            batch = await self.provider.client().messages.batches.create(requests=entries)
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure
        return str(batch.id)

    async def status(self, job_id: str) -> BatchStatus:
        failure = None
        try:
            batch = await self.provider.client().messages.batches.retrieve(job_id)
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure
        counts = batch.request_counts
        total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
        expires = _epoch(batch.expires_at)
        if batch.processing_status != "ended":
            state = "cancelling" if batch.processing_status == "canceling" else "running"
            return BatchStatus(state, batch.processing_status, total=total, expires_at=expires)
        outcome = ("cancelled" if batch.cancel_initiated_at is not None else "expired" if counts.expired
                   else "completed")
        return BatchStatus("ended", "ended", outcome, total, counts.succeeded, counts.errored + counts.expired +
                           counts.canceled, expires)

    async def results(self, job_id: str) -> AsyncIterator[BatchOutcome]:
        failure = None
        try:
            decoder = await self.provider.client().messages.batches.results(job_id)
            async for entry in decoder:
                yield self.outcome(entry)
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure

    async def cancel(self, job_id: str) -> None:
        failure = None
        try:
            await self.provider.client().messages.batches.cancel(job_id)
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure

    async def count_tokens(self, request: ChatRequest) -> int | None:
        system, messages = anthropic_format.messages(request, self.provider.capabilities_for(request.model))
        args: dict[str, Any] = {"model": request.model, "messages": messages}
        if system:
            args["system"] = system
        failure = None
        try:
            counted = await self.provider.client().messages.count_tokens(**args)
        except Exception as error:
            failure = self.mapped(error, request.model)
        if failure is not None:
            raise failure
        return int(counted.input_tokens)

    def outcome(self, entry: Any) -> BatchOutcome:
        """One results line (a ``MessageBatchIndividualResponse``)."""
        result, custom_id = entry.result, str(entry.custom_id)
        if result.type == "succeeded":
            message = result.message
            texts = [b.text for b in message.content if b.type == "text"]
            calls = [b for b in message.content if b.type == "tool_use"]
            text = "".join(texts) if texts or not calls else json.dumps(calls[0].input)  # the forced JSON tool
            return BatchOutcome(custom_id, "ok", text, _usage(message.usage), message.stop_reason)
        if result.type == "errored":
            body = result.error.model_dump() if hasattr(result.error, "model_dump") else result.error
            mapped = from_status(None, body, self.provider.error_context())
            return BatchOutcome(custom_id, "failed", error=str(mapped), error_kind=mapped.kind)
        status = "cancelled" if result.type == "canceled" else "expired"
        return BatchOutcome(custom_id, status, error=f"the request was {status} before it ran", error_kind=status)


def _usage(usage: Any) -> Usage:
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    write = getattr(usage, "cache_creation_input_tokens", None) or 0
    return Usage((usage.input_tokens or 0) + read + write, usage.output_tokens or 0, read, write)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
