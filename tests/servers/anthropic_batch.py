"""Anthropic's Message Batches API on the fake server (progress driven by ``server.batches``).

``POST /v1/messages/batches`` (``requests: [{custom_id, params}]``; ``params`` are checked only when
the request is processed, as the API does: an invalid one ends ``errored``), ``GET
/v1/messages/batches[/{id}]``, ``POST .../{id}/cancel``, ``DELETE .../{id}`` (ended batches only) and
``GET .../{id}/results``. ``processing_status`` is ``in_progress``, ``canceling`` or ``ended``;
``request_counts {processing, succeeded, errored, canceled, expired}`` stay all ``processing`` until
the batch ends (as documented); ``results_url`` appears when it ends. Results are JSONL lines
``{custom_id, result: {type: succeeded, message} | {type: errored, error: {type: "error", error:
{type, message}}} | {type: canceled} | {type: expired}}``. A whole-batch failure (``fail_job``) does
not exist in this API: such a batch ends with every unprocessed request expired.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .batches import Item, Job
from .protocol import Answer, Request

if TYPE_CHECKING:
    from .anthropic_wire import AnthropicProtocol

BASE = "/v1/messages/batches"
ROUTES = [("POST", re.compile(BASE), "create"), ("GET", re.compile(BASE), "list"),
          ("GET", re.compile(BASE + r"/[^/]+"), "get"), ("DELETE", re.compile(BASE + r"/[^/]+"), "delete"),
          ("POST", re.compile(BASE + r"/[^/]+/cancel"), "cancel"),
          ("GET", re.compile(BASE + r"/[^/]+/results"), "results")]
CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
STATUS = {"validating": "in_progress", "in_progress": "in_progress", "cancelling": "canceling", "ended": "ended"}


def route(method: str, path: str) -> str | None:
    return next((name for m, pattern, name in ROUTES if m == method and pattern.fullmatch(path)), None)


def handle(proto: AnthropicProtocol, name: str, request: Request) -> Answer:
    batches = request.server.batches
    with batches.lock:
        if name == "create":
            return _create(proto, request)
        if name == "list":
            return Answer(200, _list(request))
        job_id = request.path.split("/")[4]
        if job_id not in batches.jobs:
            return Answer(404, proto.error(404, f"No message batch found with id {job_id}"))
        job = batches.jobs[job_id]
        if name == "cancel":
            batches.cancel(job.id)
        if name == "delete":
            if job.state != "ended":
                return Answer(400, proto.error(400, f"Batch {job.id} cannot be deleted while it is processing; "
                                                    "cancel it first."))
            del batches.jobs[job.id]
            return Answer(200, {"id": job.id, "type": "message_batch_deleted"})
        if name == "results":
            if job.state != "ended":
                return Answer(404, proto.error(404, f"Results for {job.id} are not available yet: it is still "
                                                    "processing."))
            lines = "".join(json.dumps({"custom_id": i.key, "result": _result(i)}) + "\n" for i in job.items)
            return Answer(200, lines.encode(), "application/binary")
        return Answer(200, render(request, job))


def _create(proto: AnthropicProtocol, request: Request) -> Answer:
    batches, entries = request.server.batches, (request.body or {}).get("requests")
    if not isinstance(entries, list) or not entries:
        return Answer(400, proto.error(400, "requests: List should have at least 1 item"))
    items: list[Item] = []
    seen: set[Any] = set()
    for i, entry in enumerate(entries):
        custom_id, params = entry.get("custom_id"), entry.get("params")
        if not CUSTOM_ID.fullmatch(str(custom_id)):
            return Answer(400, proto.error(400, f"requests.{i}.custom_id: String should match pattern "
                                                "'^[a-zA-Z0-9_-]{1,64}$'"))
        if custom_id in seen:
            return Answer(400, proto.error(400, f"requests.{i}.custom_id: Duplicate custom_id '{custom_id}'. "
                                                "custom_id must be unique within a batch."))
        if not isinstance(params, dict):
            return Answer(400, proto.error(400, f"requests.{i}.params: Field required"))
        seen.add(custom_id)
        items.append(Item(custom_id, str(params.get("model")), params))
    job = batches.add(Job(batches.new_id("msgbatch_test"), items, state="in_progress"))
    job.times["in_progress"] = job.times["created"]
    return Answer(200, render(request, job))


def _time(value: int | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")


def render(request: Request, job: Job) -> dict[str, Any]:
    """The MessageBatch object."""
    ended = job.state == "ended"
    counts = {"processing": 0 if ended else len(job.items), "succeeded": job.count("succeeded") if ended else 0,
              "errored": job.count("errored") if ended else 0, "canceled": job.count("canceled") if ended else 0,
              "expired": job.count("expired", "pending") if ended else 0}
    return {"id": job.id, "type": "message_batch", "processing_status": STATUS[job.state],
            "request_counts": counts, "ended_at": _time(job.times.get("ended")),
            "created_at": _time(job.times["created"]), "expires_at": _time(job.times["created"] + 86400),
            "archived_at": None, "cancel_initiated_at": _time(job.times.get("cancelling")),
            "results_url": f"{request.server.url}{BASE}/{job.id}/results" if ended else None}


def _result(item: Item) -> dict[str, Any]:
    if item.state == "succeeded":
        return {"type": "succeeded", "message": item.body}
    if item.state == "errored":
        return {"type": "errored", "error": item.body}
    return {"type": "canceled" if item.state == "canceled" else "expired"}


def _list(request: Request) -> dict[str, Any]:
    query = parse_qs(request.query)
    limit = int(query.get("limit", ["20"])[0])
    jobs = list(reversed(request.server.batches.jobs.values()))  # newest first
    if "after_id" in query:
        ids = [j.id for j in jobs]
        jobs = jobs[ids.index(query["after_id"][0]) + 1:] if query["after_id"][0] in ids else []
    page = [render(request, j) for j in jobs[:limit]]
    return {"data": page, "has_more": len(jobs) > limit, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None}
