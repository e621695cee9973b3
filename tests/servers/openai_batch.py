"""OpenAI's Files and Batch API on the fake server (progress driven by ``server.batches``).

``POST /v1/files`` (multipart: ``file`` a ``.jsonl``, ``purpose`` ``batch``) stores a file;
``GET /v1/files/{id}`` / ``.../content``, ``DELETE /v1/files/{id}``. ``POST /v1/batches``
(``input_file_id``, ``endpoint`` ``/v1/chat/completions``, ``completion_window`` ``24h``, ``metadata``)
reads the file's lines ``{custom_id, method: "POST", url, body}``; a bad line fails the batch at once
(``status: failed`` with ``errors.data``). ``GET /v1/batches[/{id}]``, ``POST /v1/batches/{id}/cancel``.

Status: ``validating`` until the test advances the job, ``in_progress``, then ``completed`` /
``expired`` / ``cancelling`` -> ``cancelled`` / ``failed``; ``request_counts {total, completed,
failed}``. When the job ends, ``output_file_id`` holds the successful lines ``{id, custom_id, response:
{status_code: 200, request_id, body: chat.completion}, error: null}`` and ``error_file_id`` the rest:
API errors as ``response: {status_code: 4xx/5xx, body: {error}}``, expired and cancelled requests as
``response: null, error: {code: batch_expired | batch_cancelled, message}``. Either id is null when its
file would be empty.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .batches import Item, Job
from .protocol import Answer, Problem, Request

if TYPE_CHECKING:
    from .openai_wire import OpenAIProtocol

ENDPOINT = "/v1/chat/completions"
ROUTES = [("POST", re.compile(r"/v1/files"), "file_create"), ("GET", re.compile(r"/v1/files/[^/]+"), "file_get"),
          ("GET", re.compile(r"/v1/files/[^/]+/content"), "file_content"),
          ("DELETE", re.compile(r"/v1/files/[^/]+"), "file_delete"),
          ("POST", re.compile(r"/v1/batches"), "batch_create"), ("GET", re.compile(r"/v1/batches"), "batch_list"),
          ("GET", re.compile(r"/v1/batches/[^/]+"), "batch_get"),
          ("POST", re.compile(r"/v1/batches/[^/]+/cancel"), "batch_cancel")]
STATUS = {"validating": "validating", "in_progress": "in_progress", "cancelling": "cancelling"}
ENDED = {"completed": "completed", "expired": "expired", "cancelled": "cancelled", "failed": "failed"}
NOT_RUN = {"expired": ("batch_expired", "This request could not be executed before the completion window expired."),
           "canceled": ("batch_cancelled", "This request was not executed because the batch was cancelled.")}


def route(method: str, path: str) -> str | None:
    return next((name for m, pattern, name in ROUTES if m == method and pattern.fullmatch(path)), None)


def handle(proto: OpenAIProtocol, name: str, request: Request) -> Answer:
    batches = request.server.batches
    parts = request.path.split("/")  # ["", "v1", "files" | "batches", id, ...]
    with batches.lock:
        if name == "file_create":
            return _upload(proto, request)
        if name.startswith("file_"):
            if parts[3] not in batches.files:
                return Answer(404, proto.error(404, f"No such File object: {parts[3]}"))
            meta, content = batches.files[parts[3]]
            if name == "file_content":
                return Answer(200, content, "application/octet-stream")
            if name == "file_delete":
                del batches.files[parts[3]]
                return Answer(200, {"id": parts[3], "object": "file", "deleted": True})
            return Answer(200, meta)
        if name == "batch_create":
            return _create(proto, request)
        if name == "batch_list":
            return Answer(200, _list(proto, request))
        if parts[3] not in batches.jobs:
            return Answer(404, proto.error(404, f"No batch found with id '{parts[3]}'."))
        job = batches.jobs[parts[3]]
        if name == "batch_cancel":
            if job.state not in ("validating", "in_progress"):
                status = render(request, job)["status"]
                return Answer(409, proto.error(409, f"Cannot cancel a batch with status '{status}'."))
            batches.cancel(job.id)
        return Answer(200, render(request, job))


def _upload(proto: OpenAIProtocol, request: Request) -> Answer:
    form = request.body if isinstance(request.body, dict) else {}
    upload, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload, tuple):
        return Answer(400, proto.error(400, Problem("Missing required parameter: 'file'.", "file")))
    if purpose not in ("assistants", "batch", "fine-tune", "vision", "user_data", "evals"):
        return Answer(400, proto.error(400, Problem(f"Invalid value for 'purpose': '{purpose}'.", "purpose")))
    filename, content = upload
    if purpose == "batch" and not str(filename).endswith(".jsonl"):
        return Answer(400, proto.error(400, Problem("Invalid file format for Batch API. Must be .jsonl", "file")))
    return Answer(200, store(request, str(filename), purpose, content))


def store(request: Request, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
    batches = request.server.batches
    meta = {"id": batches.new_id("file-test"), "object": "file", "bytes": len(content), "created_at": batches.now(),
            "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
            "status_details": None}
    batches.files[meta["id"]] = (meta, content)
    return meta


def _create(proto: OpenAIProtocol, request: Request) -> Answer:
    batches, body = request.server.batches, request.body or {}
    if body.get("endpoint") != ENDPOINT:
        return Answer(400, proto.error(400, Problem(f"Invalid value for 'endpoint': this server serves {ENDPOINT} "
                                                    "batches only.", "endpoint")))
    if body.get("completion_window") != "24h":
        return Answer(400, proto.error(400, Problem("Invalid value for 'completion_window': only '24h' is supported.",
                                                    "completion_window")))
    file = batches.files.get(str(body.get("input_file_id")))
    if file is None or file[0]["purpose"] != "batch":
        return Answer(400, proto.error(400, Problem(f"Invalid 'input_file_id': '{body.get('input_file_id')}'. "
                                                    "Upload a file with purpose 'batch' first.", "input_file_id")))
    items, errors = _read_lines(file[1])
    job = Job(batches.new_id("batch_test"), items,
              info={"input_file_id": file[0]["id"], "metadata": body.get("metadata")})
    batches.add(job)
    if errors:
        job.info["errors"] = errors
        batches.fail_job(job.id, errors[0]["message"])
    return Answer(200, render(request, job))


def _read_lines(content: bytes) -> tuple[list[Item], list[dict[str, Any]]]:
    items: list[Item] = []
    seen: set[str] = set()
    for number, line in enumerate(content.decode().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            return [], [_line_error(number, "invalid_json", "This line is not parseable as valid JSON.")]
        problem = None
        if not isinstance(entry.get("custom_id"), str):
            problem = ("missing_required_parameter", "Missing required parameter: 'custom_id'.", "custom_id")
        elif entry["custom_id"] in seen:
            problem = ("duplicate_custom_id", "The custom_id for this request is a duplicate of another request. "
                       "The custom_id parameter must be unique for each request in a batch.", "custom_id")
        elif entry.get("method") != "POST" or entry.get("url") != ENDPOINT:
            problem = ("mismatched_endpoint", f"The provided URL for this request does not match the batch endpoint "
                       f"{ENDPOINT}.", "url")
        elif not isinstance(entry.get("body"), dict):
            problem = ("missing_required_parameter", "Missing required parameter: 'body'.", "body")
        if problem:
            return [], [_line_error(number, *problem)]
        seen.add(entry["custom_id"])
        items.append(Item(entry["custom_id"], str(entry["body"].get("model")), entry["body"]))
    if not items:
        return [], [_line_error(None, "empty_file", "The batch input file is empty.")]
    return items, []


def _line_error(line: int | None, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def render(request: Request, job: Job) -> dict[str, Any]:
    """The Batch object; when the job has ended, its output and error files exist."""
    times = job.times
    status = ENDED[job.ending] if job.state == "ended" else STATUS[job.state]
    if job.state == "ended" and job.ending != "failed" and "output_file_id" not in job.info:
        _write_results(request, job)
    errors = {"object": "list", "data": job.info["errors"]} if job.info.get("errors") else None
    if errors is None and job.ending == "failed":
        errors = {"object": "list", "data": [_line_error(None, "failed", job.error)]}
    return {"id": job.id, "object": "batch", "endpoint": ENDPOINT, "model": None, "errors": errors,
            "input_file_id": job.info["input_file_id"], "completion_window": "24h", "status": status,
            "output_file_id": job.info.get("output_file_id"), "error_file_id": job.info.get("error_file_id"),
            "created_at": times["created"], "in_progress_at": times.get("in_progress"),
            "expires_at": times["created"] + 86400, "finalizing_at": times.get("finalizing"),
            "completed_at": times.get("completed"), "failed_at": times.get("failed"),
            "expired_at": times.get("expired"), "cancelling_at": times.get("cancelling"),
            "cancelled_at": times.get("cancelled"),
            "request_counts": {"total": len(job.items), "completed": job.count("succeeded"),
                               "failed": job.count("errored")},
            "metadata": job.info.get("metadata")}


def _write_results(request: Request, job: Job) -> None:
    output, errors = [], []
    for number, item in enumerate(job.items, start=1):
        line: dict[str, Any] = {"id": f"batch_req_{job.id}_{number:03d}", "custom_id": item.key}
        if item.state in NOT_RUN:
            code, message = NOT_RUN[item.state]
            errors.append({**line, "response": None, "error": {"code": code, "message": message}})
            continue
        response = {"status_code": item.status, "request_id": f"req_{job.id}_{number:03d}", "body": item.body}
        (output if item.state == "succeeded" else errors).append({**line, "response": response, "error": None})
    for key, lines, suffix in (("output_file_id", output, "output"), ("error_file_id", errors, "errors")):
        content = "".join(json.dumps(line) + "\n" for line in lines).encode()
        job.info[key] = store(request, f"{job.id}_{suffix}.jsonl", "batch_output", content)["id"] if lines else None


def _list(proto: OpenAIProtocol, request: Request) -> dict[str, Any]:
    query = parse_qs(request.query)
    limit = int(query.get("limit", ["20"])[0])
    jobs = list(reversed(request.server.batches.jobs.values()))  # newest first
    if "after" in query:
        ids = [j.id for j in jobs]
        jobs = jobs[ids.index(query["after"][0]) + 1:] if query["after"][0] in ids else []
    page = [render(request, j) for j in jobs[:limit]]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": len(jobs) > limit}
