"""Provider Batch APIs (B2): what a provider offers to run many requests as one job, at about half the price,
without rate limits in the way.

A provider kind declares one by returning a :class:`BatchService` from ``Provider.batch_service()`` (and
``Capabilities(batch_api=True)``); a plugin does the same. The built-in ones: OpenAI (a JSONL file upload
and ``/v1/batches``, ``openai_batch``), Anthropic Message Batches (``anthropic_batch``) and Gemini batch
mode (``gemini_batch``). Each turns the kit's provider-neutral requests into its API's request bodies (the
same as its live requests, without streaming) and its API's results back into :class:`BatchOutcome`.

Every method runs on the hub loop. Each method says whether a service **must** or **may** override it.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..model import Usage

if TYPE_CHECKING:
    from .base import ChatRequest, Provider


@dataclass(frozen=True)
class BatchRequest:
    """One request of a job; the provider echoes ``custom_id`` back with its result."""

    custom_id: str
    request: ChatRequest


@dataclass(frozen=True)
class BatchStatus:
    """A job as the provider reports it. ``state``: ``running``, ``cancelling`` or ``ended`` (then
    ``outcome`` is ``completed``, ``expired``, ``cancelled`` or ``failed``). Counts are None where the
    provider does not report them while the job runs."""

    state: str
    provider_state: str
    outcome: str | None = None
    total: int | None = None
    completed: int | None = None
    failed: int | None = None
    expires_at: float | None = None  # when the provider's completion window ends (epoch seconds)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "provider_state": self.provider_state, "outcome": self.outcome,
                "total": self.total, "completed": self.completed, "failed": self.failed,
                "expires_at": self.expires_at, "error": self.error}


@dataclass(frozen=True)
class BatchOutcome:
    """The result of one request: its text (``status`` ``ok``), or why there is none (``failed``,
    ``expired``, ``cancelled``)."""

    custom_id: str
    status: str
    text: str | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    error: str | None = None
    error_kind: str | None = None


class BatchService(abc.ABC):
    """A provider's Batch API. Made by ``Provider.batch_service()``; uses that provider's client."""

    #: The most requests one job may hold (the API's limit).
    max_requests: int = 50_000
    #: The price of a batch request relative to a live one (the APIs charge about half).
    price_factor: float = 0.5

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    @abc.abstractmethod
    async def submit(self, requests: Sequence[BatchRequest], *, label: str) -> str:
        """Must override: create the job; returns the provider's job id. ``label`` is ours (a metadata
        field or display name where the API has one)."""

    @abc.abstractmethod
    async def status(self, job_id: str) -> BatchStatus:
        """Must override: the job's state and counts now."""

    @abc.abstractmethod
    def results(self, job_id: str) -> AsyncIterator[BatchOutcome]:
        """Must override: the outcome of each request of an ended job, streamed (never all in memory at
        once where the API streams). A request without an outcome is settled by the caller from the job's
        ending (expired, cancelled)."""

    @abc.abstractmethod
    async def cancel(self, job_id: str) -> None:
        """Must override: ask the provider to stop the job (requests already done keep their results)."""

    async def count_tokens(self, request: ChatRequest) -> int | None:
        """May override: the input tokens of ``request`` from the provider's token-count endpoint; None when
        there is none (the caller estimates)."""
        return None

    def mapped(self, error: BaseException, model: str = "") -> Exception:
        """The provider's error for ``error`` (see ``Provider.mapped``)."""
        return self.provider.mapped(error, model)
