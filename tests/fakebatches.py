"""Batch endpoints for the fake provider: Anthropic Message Batches, OpenAI Files + Batches.

They plug into a :class:`~tests.fakeserver.FakeProvider` with its ``route`` hook, so
faults, latency and request recording apply to them as to chat requests. Each
batched request is answered by the same script as a chat request (reply queue,
responder, default), when the batch ends.

Example::

    with FakeProvider() as fake:
        batches = FakeBatches(fake, polls_until_done=2)  # two retrieves say "in progress"
        batches.item_fault = lambda custom_id, body: Fault.error(400, "bad") if custom_id == "q3" else None
        fake.respond_with(lambda call: f"answer to {call.last_user}")
        client.messages.batches.create(requests=[{"custom_id": "q1", "params": {...}}])
        ...

Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches[/{id}]``,
``GET /v1/messages/batches/{id}/results`` (JSONL), ``POST .../{id}/cancel``.
OpenAI: ``POST /v1/files`` (multipart), ``GET /v1/files/{id}[/content]``,
``POST /v1/batches``, ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakeserver import Api, FakeProvider, Fault, HTTPReply, HTTPRequest, provider_error

__all__ = ["AnthropicBatch", "FakeBatches", "OpenAIBatch", "StoredFile"]

ItemFault = Callable[[str, dict[str, Any]], Fault | None]


@dataclass
class AnthropicBatch:
    id: str
    requests: list[dict[str, Any]]  # [{"custom_id", "params"}]
    anthropic_version: str
    created: float
    polls_left: int
    status: str = "in_progress"  # "in_progress", "ended"
    canceled: bool = False
    ended: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class OpenAIBatch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    lines: list[dict[str, Any]]  # [{"custom_id", "method", "url", "body"}]
    created: int
    polls_left: int
    metadata: dict[str, Any] | None = None
    status: str = "in_progress"  # "in_progress", "completed", "cancelled"
    ended: int | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created: int


class FakeBatches:
    """Batch APIs on ``fake``. A batch ends on the ``polls_until_done``-th retrieve (0: at once).

    ``item_fault(custom_id, body)`` may return a Fault (its status and message) to fail one item.
    """

    def __init__(self, fake: FakeProvider, *, polls_until_done: int = 0) -> None:
        self.fake = fake
        self.polls_until_done = polls_until_done
        self.item_fault: ItemFault | None = None
        self.anthropic: dict[str, AnthropicBatch] = {}
        self.openai: dict[str, OpenAIBatch] = {}
        self.files: dict[str, StoredFile] = {}
        self._lock = threading.RLock()  # batch state changes one request at a time
        self._serial = 0
        batch_id = r"(?P<id>[\w-]+)"
        fake.route("POST", "/v1/messages/batches", self._anthropic_create)
        fake.route("GET", "/v1/messages/batches", self._anthropic_list)
        fake.route("GET", f"/v1/messages/batches/{batch_id}", self._anthropic_retrieve)
        fake.route("GET", f"/v1/messages/batches/{batch_id}/results", self._anthropic_results)
        fake.route("POST", f"/v1/messages/batches/{batch_id}/cancel", self._anthropic_cancel)
        fake.route("POST", "/v1/files", self._file_create)
        fake.route("GET", f"/v1/files/{batch_id}", self._file_retrieve)
        fake.route("GET", f"/v1/files/{batch_id}/content", self._file_content)
        fake.route("POST", "/v1/batches", self._openai_create)
        fake.route("GET", f"/v1/batches/{batch_id}", self._openai_retrieve)
        fake.route("POST", f"/v1/batches/{batch_id}/cancel", self._openai_cancel)

    def finish_all(self) -> None:
        """End every batch still in progress now, as if its last poll had happened."""
        with self._lock:
            for a in self.anthropic.values():
                if a.status == "in_progress":
                    self._anthropic_finish(a)
            for o in self.openai.values():
                if o.status == "in_progress":
                    self._openai_finish(o)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._serial += 1
            return f"{prefix}{self._serial:04d}"

    def _answer(self, api: Api, custom_id: str, body: Any, index: int, version: str) -> HTTPReply:
        fault = (
            self.item_fault(custom_id, body if isinstance(body, dict) else {}) if self.item_fault else None
        )
        if fault is not None:
            return provider_error(api, fault.status or 500, fault.message)
        return self.fake.answer_chat(api, body, index=index, anthropic_version=version)

    # -- Anthropic Message Batches ------------------------------------------------------------------

    def _anthropic_create(self, request: HTTPRequest) -> HTTPReply:
        error = self.fake.check_auth("anthropic", request.headers)
        if error is not None:
            return error
        requests = request.body.get("requests") if isinstance(request.body, dict) else None
        if not isinstance(requests, list) or not requests:
            return provider_error("anthropic", 400, "requests: at least one request is required")
        ids = [r.get("custom_id") for r in requests if isinstance(r, dict)]
        if len(ids) != len(requests) or not all(isinstance(i, str) and i for i in ids):
            return provider_error("anthropic", 400, "requests: each request needs a custom_id and params")
        if len(set(ids)) != len(ids):
            return provider_error("anthropic", 400, "requests: custom_id values must be unique")
        batch = AnthropicBatch(
            id=self._next_id("msgbatch_fake_"),
            requests=requests,
            anthropic_version=request.headers.get("anthropic-version", "2026-10-21"),
            created=time.time(),
            polls_left=self.polls_until_done,
        )
        with self._lock:
            self.anthropic[batch.id] = batch
        if batch.polls_left <= 0:
            self._anthropic_finish(batch)
        return HTTPReply(200, self._anthropic_json(batch))

    def _anthropic_lookup(self, request: HTTPRequest) -> AnthropicBatch | HTTPReply:
        error = self.fake.check_auth("anthropic", request.headers)
        if error is not None:
            return error
        batch = self.anthropic.get(request.match["id"])
        if batch is None:
            return provider_error("anthropic", 404, f"message batch not found: {request.match['id']}")
        return batch

    def _anthropic_retrieve(self, request: HTTPRequest) -> HTTPReply:
        batch = self._anthropic_lookup(request)
        if isinstance(batch, HTTPReply):
            return batch
        with self._lock:
            if batch.status == "in_progress":
                batch.polls_left -= 1
                if batch.polls_left <= 0:
                    self._anthropic_finish(batch)
            return HTTPReply(200, self._anthropic_json(batch))

    def _anthropic_list(self, request: HTTPRequest) -> HTTPReply:
        error = self.fake.check_auth("anthropic", request.headers)
        if error is not None:
            return error
        data = [self._anthropic_json(b) for b in reversed(list(self.anthropic.values()))]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return HTTPReply(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})

    def _anthropic_results(self, request: HTTPRequest) -> HTTPReply:
        batch = self._anthropic_lookup(request)
        if isinstance(batch, HTTPReply):
            return batch
        if batch.status != "ended":
            return provider_error("anthropic", 400, f"message batch {batch.id} is still in progress")
        lines = "".join(json.dumps(r) + "\n" for r in batch.results)
        return HTTPReply(200, lines.encode(), {"Content-Type": "application/binary"})

    def _anthropic_cancel(self, request: HTTPRequest) -> HTTPReply:
        batch = self._anthropic_lookup(request)
        if isinstance(batch, HTTPReply):
            return batch
        with self._lock:
            if batch.status == "in_progress":
                batch.canceled = True
                batch.results = [
                    {"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in batch.requests
                ]
                batch.status, batch.ended = "ended", time.time()
            return HTTPReply(200, self._anthropic_json(batch))

    def _anthropic_finish(self, batch: AnthropicBatch) -> None:
        results = []
        for item in batch.requests:
            index = self.fake.request_count
            reply = self._answer(
                "anthropic", item["custom_id"], item.get("params"), index, batch.anthropic_version
            )
            if reply.status == 200:
                result = {"type": "succeeded", "message": reply.body}
            else:
                result = {"type": "errored", "error": reply.body}
            results.append({"custom_id": item["custom_id"], "result": result})
        batch.results, batch.status, batch.ended = results, "ended", time.time()

    def _anthropic_json(self, batch: AnthropicBatch) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.status == "ended":
            for r in batch.results:
                counts[r["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch.requests)
        ended = batch.status == "ended"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": counts,
            "created_at": _rfc3339(batch.created),
            "expires_at": _rfc3339(batch.created + 24 * 3600),
            "ended_at": _rfc3339(batch.ended) if batch.ended else None,
            "cancel_initiated_at": _rfc3339(batch.ended) if batch.canceled and batch.ended else None,
            "archived_at": None,
            "results_url": f"{self.fake.url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    # -- OpenAI Files + Batches ---------------------------------------------------------------------

    def _file_create(self, request: HTTPRequest) -> HTTPReply:
        error = self.fake.check_auth("openai", request.headers)
        if error is not None:
            return error
        fields = _multipart(request.headers.get("content-type", ""), request.raw)
        if "file" not in fields or "purpose" not in fields:
            return provider_error("openai", 400, "file and purpose are required (multipart/form-data)")
        filename, content = fields["file"]
        stored = StoredFile(
            id=self._next_id("file-fake-"),
            filename=filename or "upload.jsonl",
            purpose=fields["purpose"][1].decode(),
            content=content,
            created=int(time.time()),
        )
        with self._lock:
            self.files[stored.id] = stored
        return HTTPReply(200, _file_json(stored))

    def _file_lookup(self, request: HTTPRequest) -> StoredFile | HTTPReply:
        error = self.fake.check_auth("openai", request.headers)
        if error is not None:
            return error
        stored = self.files.get(request.match["id"])
        if stored is None:
            return provider_error("openai", 404, f"No such File object: {request.match['id']}")
        return stored

    def _file_retrieve(self, request: HTTPRequest) -> HTTPReply:
        stored = self._file_lookup(request)
        return stored if isinstance(stored, HTTPReply) else HTTPReply(200, _file_json(stored))

    def _file_content(self, request: HTTPRequest) -> HTTPReply:
        stored = self._file_lookup(request)
        if isinstance(stored, HTTPReply):
            return stored
        return HTTPReply(200, stored.content, {"Content-Type": "application/octet-stream"})

    def _openai_create(self, request: HTTPRequest) -> HTTPReply:
        error = self.fake.check_auth("openai", request.headers)
        if error is not None:
            return error
        body = request.body if isinstance(request.body, dict) else {}
        stored = self.files.get(str(body.get("input_file_id")))
        if stored is None:
            return provider_error(
                "openai", 400, f"input_file_id {body.get('input_file_id')!r} does not exist"
            )
        if body.get("endpoint") != "/v1/chat/completions":
            return provider_error(
                "openai", 400, f"endpoint {body.get('endpoint')!r} is not supported by the fake"
            )
        try:
            lines = [json.loads(line) for line in stored.content.decode().splitlines() if line.strip()]
        except ValueError as exc:
            return provider_error("openai", 400, f"the input file is not valid JSONL: {exc}")
        if not lines or any(not isinstance(line, dict) or "custom_id" not in line for line in lines):
            return provider_error("openai", 400, "every input line needs a custom_id, method, url and body")
        batch = OpenAIBatch(
            id=self._next_id("batch_fake_"),
            input_file_id=stored.id,
            endpoint=body["endpoint"],
            completion_window=str(body.get("completion_window", "24h")),
            lines=lines,
            created=int(time.time()),
            polls_left=self.polls_until_done,
            metadata=body.get("metadata"),
        )
        with self._lock:
            self.openai[batch.id] = batch
        if batch.polls_left <= 0:
            self._openai_finish(batch)
        return HTTPReply(200, self._openai_json(batch))

    def _openai_lookup(self, request: HTTPRequest) -> OpenAIBatch | HTTPReply:
        error = self.fake.check_auth("openai", request.headers)
        if error is not None:
            return error
        batch = self.openai.get(request.match["id"])
        if batch is None:
            return provider_error("openai", 404, f"No batch found with id '{request.match['id']}'")
        return batch

    def _openai_retrieve(self, request: HTTPRequest) -> HTTPReply:
        batch = self._openai_lookup(request)
        if isinstance(batch, HTTPReply):
            return batch
        with self._lock:
            if batch.status == "in_progress":
                batch.polls_left -= 1
                if batch.polls_left <= 0:
                    self._openai_finish(batch)
            return HTTPReply(200, self._openai_json(batch))

    def _openai_cancel(self, request: HTTPRequest) -> HTTPReply:
        batch = self._openai_lookup(request)
        if isinstance(batch, HTTPReply):
            return batch
        with self._lock:
            if batch.status == "in_progress":
                batch.status, batch.ended = "cancelled", int(time.time())
            return HTTPReply(200, self._openai_json(batch))

    def _openai_finish(self, batch: OpenAIBatch) -> None:
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for n, line in enumerate(batch.lines):
            index = self.fake.request_count
            reply = self._answer("openai", line["custom_id"], line.get("body"), index, "")
            entry = {
                "id": f"batch_req_fake_{n:04d}",
                "custom_id": line["custom_id"],
                "response": {
                    "status_code": reply.status,
                    "request_id": f"req_batch_{n:04d}",
                    "body": reply.body,
                },
                "error": None,
            }
            (output if reply.status == 200 else errors).append(entry)
        batch.completed, batch.failed = len(output), len(errors)
        if output:
            batch.output_file_id = self._store_result(batch, "output", output).id
        if errors:
            batch.error_file_id = self._store_result(batch, "errors", errors).id
        batch.status, batch.ended = "completed", int(time.time())

    def _store_result(self, batch: OpenAIBatch, kind: str, entries: list[dict[str, Any]]) -> StoredFile:
        content = "".join(json.dumps(e) + "\n" for e in entries).encode()
        stored = StoredFile(
            self._next_id("file-fake-"), f"{batch.id}_{kind}.jsonl", "batch_output", content, int(time.time())
        )
        with self._lock:
            self.files[stored.id] = stored
        return stored

    def _openai_json(self, batch: OpenAIBatch) -> dict[str, Any]:
        done = batch.status == "completed"
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": batch.created,
            "in_progress_at": batch.created,
            "expires_at": batch.created + 24 * 3600,
            "completed_at": batch.ended if done else None,
            "cancelled_at": batch.ended if batch.status == "cancelled" else None,
            "request_counts": {
                "total": len(batch.lines),
                "completed": batch.completed,
                "failed": batch.failed,
            },
            "metadata": batch.metadata,
        }


def _rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def _file_json(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.id,
        "object": "file",
        "bytes": len(stored.content),
        "created_at": stored.created,
        "filename": stored.filename,
        "purpose": stored.purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name:
            fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields
