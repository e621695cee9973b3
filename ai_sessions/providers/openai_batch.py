"""OpenAI's Batch API: the requests as a JSONL file (``purpose="batch"``), a ``/v1/batches`` job over
``/v1/chat/completions`` with a 24 h completion window, polled with ``batches.retrieve``; its results come
as an output file (successes) and an error file (API errors, expired and cancelled requests), both read as
streams of lines. Each line's body is the same Chat Completions request the live adapter sends, without
streaming. OpenAI has no token-count endpoint for Chat Completions: estimates use the documented rule.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ..model import Usage
from .batch_api import BatchOutcome, BatchRequest, BatchService, BatchStatus
from .sdk_errors import from_status

if TYPE_CHECKING:
    from .openai import OpenAIProvider

ENDPOINT = "/v1/chat/completions"
RUNNING = {"validating", "in_progress", "finalizing"}
NOT_RUN = {"batch_expired": "expired", "batch_cancelled": "cancelled"}


class OpenAIBatches(BatchService):
    """``openai:MODEL`` jobs through ``/v1/batches``."""

    max_requests = 50_000
    provider: OpenAIProvider

    def body(self, request: Any) -> dict[str, Any]:
        """The Chat Completions body of one request (the live request without streaming)."""
        body = self.provider.request_args(request)
        body.pop("stream", None)
        body.pop("stream_options", None)
        body.update(body.pop("extra_body", None) or {})
        return body

    async def submit(self, requests: Sequence[BatchRequest], *, label: str) -> str:
        lines = (json.dumps({"custom_id": r.custom_id, "method": "POST", "url": ENDPOINT, "body": self.body(r.request)},
                            ensure_ascii=False) for r in requests)
        content = "".join(f"{line}\n" for line in lines).encode()
        failure = None
        try:
            client = self.provider.client()
            upload = await client.files.create(file=("ai_sessions-batch.jsonl", content), purpose="batch")
            batch = await client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h",
                                                metadata={"ai_sessions_job": label})
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure
        return str(batch.id)

    async def _retrieve(self, job_id: str) -> Any:
        failure = None
        try:
            return await self.provider.client().batches.retrieve(job_id)
        except Exception as error:
            failure = self.mapped(error)
        raise failure

    async def status(self, job_id: str) -> BatchStatus:
        batch = await self._retrieve(job_id)
        counts = batch.request_counts
        state = "running" if batch.status in RUNNING else "cancelling" if batch.status == "cancelling" else "ended"
        error = None
        if batch.errors is not None and batch.errors.data:
            error = "; ".join(f"{e.message}" + (f" (line {e.line})" if e.line else "") for e in batch.errors.data[:3])
        return BatchStatus(state, str(batch.status), str(batch.status) if state == "ended" else None,
                           counts.total if counts else None, counts.completed if counts else None,
                           counts.failed if counts else None, float(batch.expires_at) if batch.expires_at else None,
                           error)

    async def results(self, job_id: str) -> AsyncIterator[BatchOutcome]:
        batch = await self._retrieve(job_id)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            failure = None
            try:
                async with self.provider.client().files.with_streaming_response.content(file_id) as response:
                    async for line in response.iter_lines():
                        if line.strip():
                            yield self.outcome(json.loads(line))
            except Exception as error:
                failure = self.mapped(error)
            if failure is not None:
                raise failure

    async def cancel(self, job_id: str) -> None:
        failure = None
        try:
            await self.provider.client().batches.cancel(job_id)
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure

    def outcome(self, line: dict[str, Any]) -> BatchOutcome:
        """One line of an output or error file."""
        custom_id = str(line.get("custom_id"))
        response, error = line.get("response"), line.get("error") or {}
        if response is None:
            status = NOT_RUN.get(error.get("code"), "failed")
            return BatchOutcome(custom_id, status, error=error.get("message") or status, error_kind=status)
        body = response.get("body") or {}
        if response.get("status_code") != 200:
            mapped = from_status(response.get("status_code"), body, self.provider.error_context(body.get("model", "")))
            return BatchOutcome(custom_id, "failed", error=str(mapped), error_kind=mapped.kind)
        choice = (body.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        usage = _usage(body.get("usage"))
        if message.get("refusal"):
            return BatchOutcome(custom_id, "failed", usage=usage, error=f"the model refused: {message['refusal']}",
                                error_kind="refused")
        return BatchOutcome(custom_id, "ok", message.get("content") or "", usage, choice.get("finish_reason"))


def _usage(raw: dict[str, Any] | None) -> Usage | None:
    if not raw:
        return None
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(raw.get("prompt_tokens") or 0, raw.get("completion_tokens") or 0, cache_read_tokens=cached)
