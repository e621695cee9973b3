"""Gemini batch mode on the fake server, as google-genai's ``client.batches`` calls it (progress driven by
``server.batches``).

``POST /v1beta/models/{model}:batchGenerateContent`` with ``{"batch": {"displayName", "inputConfig":
{"requests": {"requests": [{"request": GenerateContentRequest, "metadata": {...}}]}}}}`` (what
``client.batches.create(model=..., src=[inlined requests])`` sends; file sources are refused) answers a
long-running Operation ``{name: "batches/<id>", metadata: GenerateContentBatch, done}``. ``GET
batches/{id}`` returns it again, ``POST batches/{id}:cancel`` cancels at once (``{}``), ``DELETE
batches/{id}`` (``{}``), ``GET batches`` lists (``operations``). The SDK reads the batch from
``metadata``: ``state`` (``BATCH_STATE_PENDING`` until the test advances the job, ``..._RUNNING``,
``..._SUCCEEDED``, ``..._FAILED``, ``..._CANCELLED``, ``..._EXPIRED``), ``model``, ``displayName``,
times, ``batchStats`` (int64 counts as strings) and, once succeeded, ``output.inlinedResponses.
inlinedResponses``: one entry per request in order, ``{response: GenerateContentResponse, metadata}``
or ``{error: google.rpc.Status, metadata}`` (a partly failed batch still succeeds). A batch with any
expired request is ``..._EXPIRED`` with no output; a failed one carries the Operation's ``error``.
In ``server.batches`` controls the requests are keyed by their index: ``finish(fail=["1"])``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .batches import Item, Job
from .protocol import Answer, Request

if TYPE_CHECKING:
    from .gemini_wire import GeminiProtocol

VERSION = r"/v1(?:beta)?"
ROUTES = [("POST", re.compile(VERSION + r"/models/([^/:]+):batchGenerateContent"), "create"),
          ("GET", re.compile(VERSION + r"/batches"), "list"),
          ("GET", re.compile(VERSION + r"/batches/([^/:]+)"), "get"),
          ("POST", re.compile(VERSION + r"/batches/([^/:]+):cancel"), "cancel"),
          ("DELETE", re.compile(VERSION + r"/batches/([^/:]+)"), "delete")]
BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
STATES = {"validating": "BATCH_STATE_PENDING", "in_progress": "BATCH_STATE_RUNNING",
          "cancelling": "BATCH_STATE_RUNNING"}
ENDED = {"completed": "BATCH_STATE_SUCCEEDED", "failed": "BATCH_STATE_FAILED", "cancelled": "BATCH_STATE_CANCELLED",
         "expired": "BATCH_STATE_EXPIRED"}
RPC_CODES = {400: 3, 404: 5, 409: 9, 429: 8, 500: 13, 503: 14}  # HTTP status -> google.rpc.Code


def route(method: str, path: str) -> str | None:
    return next((name for m, pattern, name in ROUTES if m == method and pattern.fullmatch(path)), None)


def handle(proto: GeminiProtocol, name: str, request: Request) -> Answer:
    batches = request.server.batches
    match = next(p.fullmatch(request.path) for m, p, n in ROUTES if n == name)
    with batches.lock:
        if name == "create":
            return _create(proto, request, match.group(1))
        if name == "list":
            return Answer(200, _list(request))
        job_id = f"batches/{match.group(1)}"
        if job_id not in batches.jobs:
            return Answer(404, proto.error(404, f"Batch {job_id} not found."))
        job = batches.jobs[job_id]
        if name == "cancel":
            batches.cancel(job.id, settle=True)
            return Answer(200, {})
        if name == "delete":
            del batches.jobs[job.id]
            return Answer(200, {})
        return Answer(200, render(job))


def _create(proto: GeminiProtocol, request: Request, model: str) -> Answer:
    batches, batch = request.server.batches, (request.body or {}).get("batch") or {}
    config = batch.get("inputConfig") or {}
    if "fileName" in config:
        return Answer(400, proto.error(400, "This server serves inlined batch requests only (no fileName)."))
    entries = (config.get("requests") or {}).get("requests")
    if not isinstance(entries, list) or not entries:
        return Answer(400, proto.error(400, "* BatchGenerateContentRequest.batch.input_config: requests must not be "
                                            "empty"))
    items = []
    for i, entry in enumerate(entries):
        inner = dict(entry.get("request") or {})
        inner_model = str(inner.pop("model", "")).removeprefix("models/") or model
        items.append(Item(str(i), inner_model, inner, meta=entry.get("metadata")))
    job = Job(batches.new_id("batches/test"), items,
              info={"model": model, "displayName": batch.get("displayName") or f"batch-{len(batches.jobs) + 1}"})
    return Answer(200, render(batches.add(job)))


def _time(value: int | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")


def render(job: Job) -> dict[str, Any]:
    """The batch's long-running Operation."""
    ended = job.state == "ended"
    state = ENDED[job.ending] if ended else STATES[job.state]
    stats = {"requestCount": str(len(job.items)), "successfulRequestCount": str(job.count("succeeded")),
             "failedRequestCount": str(job.count("errored")), "pendingRequestCount": str(job.count("pending"))}
    metadata: dict[str, Any] = {"@type": BATCH_TYPE, "model": f"models/{job.info['model']}",
                                "displayName": job.info["displayName"], "createTime": _time(job.times["created"]),
                                "updateTime": _time(max(job.times.values())), "batchStats": stats, "state": state,
                                "name": job.id}
    operation: dict[str, Any] = {"name": job.id, "metadata": metadata, "done": ended}
    if ended:
        metadata["endTime"] = _time(job.times["ended"])
    if state == "BATCH_STATE_SUCCEEDED":
        output = {"inlinedResponses": {"inlinedResponses": [_inlined(item) for item in job.items]}}
        metadata["output"] = output
        operation["response"] = {"@type": OUTPUT_TYPE, **output}
    if state == "BATCH_STATE_FAILED":
        operation["error"] = {"code": 13, "message": job.error}
    return operation


def _inlined(item: Item) -> dict[str, Any]:
    meta = {"metadata": item.meta} if item.meta is not None else {}
    if item.state == "succeeded":
        return {"response": item.body, **meta}
    error = (item.body or {}).get("error") or {}
    return {"error": {"code": RPC_CODES.get(item.status, 2), "message": error.get("message", "")}, **meta}


def _list(request: Request) -> dict[str, Any]:
    query = parse_qs(request.query)
    size = int(query.get("pageSize", ["50"])[0])
    start = int(query.get("pageToken", ["0"])[0])
    jobs = list(reversed(request.server.batches.jobs.values()))  # newest first
    page: dict[str, Any] = {"operations": [render(j) for j in jobs[start:start + size]]}
    if start + size < len(jobs):
        page["nextPageToken"] = str(start + size)
    return page
