"""Per-model metrics from the stored events: how many replies each model wrote (or failed), how fast the first
token came (median and 90th percentile), tokens per second while streaming, tokens and cost.

A *reply attempt* is one model's go at a reply: it starts with ``llm.request.started`` and ends with the
reply's ``llm.response.completed`` / ``llm.response.failed``, or with ``llm.request.failed`` when a
``model="auto"`` reply failed over to another model (a failure of that model). ``hub.metrics()`` returns
the table as a pandas DataFrame; the inspector widget shows the same rows for one session.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .model import EventKind
from .timeline import event_columns, require_pandas

if TYPE_CHECKING:
    import pandas as pd

    from .store import Store

#: The metrics' columns, in order.
COLUMNS = ("model", "replies", "failed", "stopped", "failure_rate", "ttft_median_s", "ttft_p90_s",
           "tokens_per_s", "input_tokens", "output_tokens", "cost")
#: The events metrics read.
KINDS = (EventKind.REQUEST_STARTED.value, EventKind.REQUEST_FAILED.value, EventKind.RESPONSE_COMPLETED.value,
         EventKind.RESPONSE_FAILED.value)
_STARTED, _FAILOVER, _COMPLETED, _FAILED = KINDS


@dataclass
class _Totals:
    replies: int = 0
    failed: int = 0
    stopped: int = 0
    ttft: list[float] = field(default_factory=list)
    streamed_tokens: int = 0
    streaming_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None

    def row(self, model: str) -> dict[str, Any]:
        return {"model": model, "replies": self.replies, "failed": self.failed, "stopped": self.stopped,
                "failure_rate": self.failed / self.replies if self.replies else None,
                "ttft_median_s": statistics.median(self.ttft) if self.ttft else None,
                "ttft_p90_s": percentile(self.ttft, 90),
                "tokens_per_s": self.streamed_tokens / self.streaming_s if self.streaming_s > 0 else None,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "cost": self.cost}


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def per_model(columns: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """One row per model (most replies first) from timeline column lists (:func:`timeline.event_columns`)."""
    totals: dict[str, _Totals] = {}
    attempts: dict[tuple[str, str], tuple[str, float, float]] = {}  # (session, message) -> (model, start, first)
    for sid, kind, at, mid, model, status, fts, dur, tin, tout, price in zip(
            columns["session_id"], columns["kind"], columns["time"], columns["message_id"], columns["model"],
            columns["status"], columns["first_token_s"], columns["duration_s"], columns["input_tokens"],
            columns["output_tokens"], columns["cost"], strict=True):
        key = (sid, mid)
        if kind == _STARTED:
            first = attempts[key][2] if key in attempts else at
            attempts[key] = (model, at, first)
            continue
        if kind not in (_FAILOVER, _COMPLETED, _FAILED):
            continue
        model, began, first = attempts.pop(key, (model, at, at))
        if kind == _FAILOVER:
            attempts[key] = (model, began, first)  # the reply goes on: a later start replaces this attempt
        if not model:
            continue
        t = totals.setdefault(model, _Totals())
        t.replies += 1
        if kind != _COMPLETED:
            t.failed += 1
        elif status == "stopped":
            t.stopped += 1
        t.input_tokens += tin or 0
        t.output_tokens += tout or 0
        if price is not None:
            t.cost = (t.cost or 0.0) + price
        if kind == _FAILOVER or fts is None:
            continue
        t.ttft.append(max(0.0, fts - (began - first)))  # since this model was asked (after any failover)
        if kind == _COMPLETED and tout and dur is not None and dur - fts > 0:
            t.streamed_tokens += tout
            t.streaming_s += dur - fts
    rows = [t.row(model) for model, t in totals.items()]
    rows.sort(key=lambda r: (-r["replies"], r["model"]))
    return rows


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The rows of :func:`per_model` as a DataFrame (:data:`COLUMNS`, one row per model)."""
    pd = require_pandas()
    data = list(rows)
    result = pd.DataFrame(data, columns=list(COLUMNS))
    for name in ("replies", "failed", "stopped", "input_tokens", "output_tokens"):
        result[name] = result[name].astype("int64")
    for name in ("failure_rate", "ttft_median_s", "ttft_p90_s", "tokens_per_s", "cost"):
        result[name] = result[name].astype("float64")
    return result


def scope_metrics(store: Store, scope: str | None, session_id: str | None = None) -> list[dict[str, Any]]:
    """Per-model rows over every session of ``scope`` (None: of every scope), or of one session."""
    log = store.event_log(session_id, scope=None if session_id else scope, kinds=KINDS)
    return per_model(event_columns(log, {}))
