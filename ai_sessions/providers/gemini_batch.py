"""Gemini batch mode: ``batches.create(model=..., src=[inlined requests])`` where each request is the live
generateContent request (contents and config) with our id in its ``metadata``; the job's state moves from
``JOB_STATE_PENDING`` / ``RUNNING`` to ``SUCCEEDED`` (results inlined, in request order, a failed request
carrying a ``google.rpc.Status``), ``FAILED``, ``CANCELLED`` or ``EXPIRED`` (no results). The SDK reports
no per-request progress while a job runs. Input tokens are counted with ``models.count_tokens``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ..model import Usage
from . import gemini_format
from .batch_api import BatchOutcome, BatchRequest, BatchService, BatchStatus
from .sdk_errors import from_status

if TYPE_CHECKING:
    from .base import ChatRequest
    from .gemini import GeminiProvider

#: Inlined requests must stay under 20 MB in all; larger jobs need a file upload (not used here).
MAX_REQUESTS = 10_000
ENDED = {"JOB_STATE_SUCCEEDED": "completed", "JOB_STATE_FAILED": "failed", "JOB_STATE_CANCELLED": "cancelled",
         "JOB_STATE_EXPIRED": "expired"}
#: google.rpc.Code -> HTTP status, for the error kinds
RPC_STATUS = {3: 400, 4: 408, 5: 404, 7: 403, 8: 429, 9: 409, 13: 500, 14: 503, 16: 401}


class GeminiBatches(BatchService):
    """``gemini:MODEL`` jobs through batch mode (inlined requests)."""

    max_requests = MAX_REQUESTS
    provider: GeminiProvider

    def inlined(self, item: BatchRequest) -> dict[str, Any]:
        """One inlined request: the live request's contents and config, and our id as metadata."""
        request = item.request
        system, contents = gemini_format.contents(request, self.provider.capabilities_for(request.model))
        config = self.provider.generation_config(request, system)
        config.pop("automatic_function_calling", None)
        return {"contents": contents, "config": config, "metadata": {"key": item.custom_id}}

    async def submit(self, requests: Sequence[BatchRequest], *, label: str) -> str:
        model = requests[0].request.model
        failure = None
        try:
            job = await self.provider.client().aio.batches.create(
                model=model, src=[self.inlined(r) for r in requests], config={"display_name": label})
        except Exception as error:
            failure = self.mapped(error, model)
        if failure is not None:
            raise failure
        return str(job.name)

    async def _get(self, job_id: str) -> Any:
        failure = None
        try:
            return await self.provider.client().aio.batches.get(name=job_id)
        except Exception as error:
            failure = self.mapped(error)
        raise failure

    async def status(self, job_id: str) -> BatchStatus:
        job = await self._get(job_id)
        state = str(getattr(job.state, "value", job.state))
        if state not in ENDED:
            return BatchStatus("running", state)
        error = job.error.message if job.error is not None and job.error.message else None
        return BatchStatus("ended", state, ENDED[state], error=error)

    async def results(self, job_id: str) -> AsyncIterator[BatchOutcome]:
        job = await self._get(job_id)
        responses = job.dest.inlined_responses if job.dest is not None else None
        for position, entry in enumerate(responses or ()):
            custom_id = str((entry.metadata or {}).get("key", position))
            yield self.outcome(custom_id, entry)

    async def cancel(self, job_id: str) -> None:
        failure = None
        try:
            await self.provider.client().aio.batches.cancel(name=job_id)
        except Exception as error:
            failure = self.mapped(error)
        if failure is not None:
            raise failure

    async def count_tokens(self, request: ChatRequest) -> int | None:
        system, contents = gemini_format.contents(request, self.provider.capabilities_for(request.model))
        if system:  # counted as text: the Gemini API counts no system instruction on its own
            contents = [{"role": "user", "parts": [{"text": system}]}, *contents]
        failure = None
        try:
            counted = await self.provider.client().aio.models.count_tokens(model=request.model, contents=contents)
        except Exception as error:
            failure = self.mapped(error, request.model)
        if failure is not None:
            raise failure
        return int(counted.total_tokens or 0)

    def outcome(self, custom_id: str, entry: Any) -> BatchOutcome:
        if entry.error is not None or entry.response is None:
            code = getattr(entry.error, "code", None)
            message = getattr(entry.error, "message", None) or "the request failed"
            mapped = from_status(RPC_STATUS.get(code or 0, 500), {"error": {"message": message}},
                                 self.provider.error_context())
            return BatchOutcome(custom_id, "failed", error=str(mapped), error_kind=mapped.kind)
        response = entry.response
        candidate = (response.candidates or [None])[0]
        parts = candidate.content.parts if candidate is not None and candidate.content and candidate.content.parts \
            else ()
        text = "".join(p.text for p in parts if p.text and not p.thought)
        meta = response.usage_metadata
        usage = None
        if meta is not None:
            usage = Usage(meta.prompt_token_count or 0,
                          (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
                          cache_read_tokens=meta.cached_content_token_count or 0)
        finish = getattr(candidate.finish_reason, "value", None) if candidate is not None else None
        return BatchOutcome(custom_id, "ok", text, usage, finish)
