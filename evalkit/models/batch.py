"""Batch mode: every conversation's next turn goes to the provider's batch API, one wave at a time.

``BatchingModel`` wraps an Anthropic or OpenAI adapter. Its ``generate`` does not
call the model: it queues the request and waits. When every live conversation of
the run is waiting (the runner says how many conversations are live with
:meth:`BatchingModel.conversations_started` and :meth:`BatchingModel.conversation_ended`;
used on its own, a short quiet moment stands in), the queue goes out as one
batch (Anthropic Message Batches; OpenAI Files + Batches on ``/v1/chat/completions``),
each request named by the ``custom_id`` function it is given (the runner gives the response
cache's :func:`~evalkit.cache.request_key`: a stable hash of all that determines a reply). The
batch is polled with exponential backoff, and each waiting ``generate`` gets its
reply, or a :class:`~evalkit.errors.ModelError` for an item that failed. Items that
failed in a retryable way (rate limits, overload, server errors, expiry) go out
again in the next wave, up to the adapter's ``max_retries`` times.

Each submitted batch is journaled (``batch_submitted``: provider batch id and
custom ids; ``batch_done`` when its results are in). A resumed run passes the
stored events back in, and a request whose ``custom_id`` belongs to a batch
submitted before the restart is answered by polling that batch, not by paying
for it again.

Example::

    model = resolve_model("claude")
    waves = BatchingModel(
        model, custom_id=functools.partial(request_key, model.name, None), journal=store, polling=BatchPolling(10)
    )
    waves.conversations_started(3)
    replies = await asyncio.gather(*(ask(waves, problem) for problem in problems))  # one batch
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from evalkit.errors import ModelError
from evalkit.models.base import Model, ModelRequest, ModelResponse
from evalkit.models.limits import CallLimits
from evalkit.models.retry import (
    ErrorContext,
    Failure,
    RetryPolicy,
    Sleep,
    call_with_retries,
    one_line,
    status_failure,
)

__all__ = [
    "BATCH_PROVIDERS",
    "BatchPolling",
    "BatchingModel",
    "budget_only",
    "require_batch_support",
    "submitted_batches",
]

BATCH_PROVIDERS = ("anthropic", "openai")

log = logging.getLogger("evalkit.models")

T = TypeVar("T")
Outcome = ModelResponse | ModelError

# Anthropic reports a failed batch item by error type only; the HTTP status it stands for.
_ANTHROPIC_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_OPENAI_ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


class Journal(Protocol):
    def event(self, type: str, **data: Any) -> None: ...


@dataclass(frozen=True)
class BatchPolling:
    """How often to ask whether a batch has ended: ``first_s``, then ``factor`` times longer, up to ``max_s``.

    ``sleep`` defaults to the adapter's retry sleep, so :func:`~evalkit.models.retry.retry_timing`
    makes polling instant in tests too.
    """

    first_s: float = 5.0
    max_s: float = 60.0
    factor: float = 2.0
    sleep: Sleep | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.first_s < 0 or self.max_s < 0 or self.factor < 1:
            raise ValueError(f"bad polling: first_s={self.first_s}, max_s={self.max_s}, factor={self.factor}")

    def delays(self) -> Iterator[float]:
        delay = self.first_s
        while True:
            yield min(delay, self.max_s)
            delay = min(delay * self.factor, self.max_s)


def require_batch_support(model: str) -> None:
    """Raise a one-line :class:`ModelError` unless ``model`` (``provider:id``) has a batch API."""
    provider = model.partition(":")[0]
    if provider not in BATCH_PROVIDERS:
        raise ModelError(f"--batch needs an anthropic or openai model, not {model}; run it without --batch")


def budget_only(limits: CallLimits) -> CallLimits:
    """The run's limits for batch mode: the shared spend and cost cap, but no connection or rate cap.

    A wave holds one request per live conversation; a cap on requests in flight would keep it from filling.
    """
    return CallLimits(max_connections=1 << 30, max_cost=limits.max_cost, spend=limits.spend)


def submitted_batches(events: Iterable[dict[str, Any]]) -> dict[str, str]:
    """From a run's journal, ``custom_id`` → the provider batch it was submitted in (the latest)."""
    out: dict[str, str] = {}
    for e in events:
        if e.get("type") == "batch_submitted":
            for custom_id in e.get("custom_ids", ()):
                out[custom_id] = e["batch"]
    return out


@dataclass(eq=False)
class _Item:
    key: str
    params: dict[str, Any]
    future: asyncio.Future[ModelResponse]
    resubmits: int = 0


class BatchingModel:
    """Collects the concurrent ``generate`` calls of a run into waves sent through the provider's batch API."""

    def __init__(
        self,
        model: Model,
        *,
        custom_id: Callable[[ModelRequest], str],
        polling: BatchPolling | None = None,
        journal: Journal | None = None,
        stored_events: Iterable[dict[str, Any]] = (),
        quiet_s: float = 0.2,
    ) -> None:
        require_batch_support(model.name)
        self.inner = model
        self.name = model.name
        self.provider = model.provider
        self.custom_id = custom_id  # the same for the same request, across restarts: resume finds its batch
        self.polling = polling or BatchPolling()
        self.journal = journal
        self.quiet_s = quiet_s
        self.submitted: list[str] = []  # provider batch ids, in order
        self._api: _ProviderBatches = (
            _AnthropicBatches(model) if model.provider == "anthropic" else _OpenAIBatches(model)
        )
        policy: RetryPolicy = getattr(model, "retry_policy", RetryPolicy())
        self._sleep = self.polling.sleep or policy.sleep
        self._max_resubmits = policy.max_retries
        self._live: int | None = None  # None: nobody counts conversations; a quiet moment starts a wave
        self._waiting = 0
        self._queue: list[_Item] = []
        self._waves: set[asyncio.Task[None]] = set()
        self._earlier = submitted_batches(stored_events)
        self._earlier_results: dict[str, asyncio.Task[dict[str, Outcome]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    # -- how many conversations may still ask (told by the runner) ---------------------------------

    def conversations_started(self, count: int) -> None:
        """``count`` more conversations will ask; a wave waits for each of them."""
        self._live = (self._live or 0) + count

    def conversation_ended(self, successors: int = 0) -> None:
        """A conversation asks nothing more; ``successors`` conversations take its place (the opening's)."""
        self._live = max(0, (self._live or 0) + successors - 1)
        self._maybe_submit()

    # -- the Model protocol -------------------------------------------------------------------------

    async def generate(self, request: ModelRequest) -> ModelResponse:
        if self._closed:
            raise ModelError(f"{self.name}: batch mode is closed")
        key = self.custom_id(request)
        params = self._api.params(request)
        self._waiting += 1
        try:
            batch_id = self._earlier.pop(key, None)
            if batch_id is not None:
                outcome = await self._earlier_outcome(batch_id, key)
                if isinstance(outcome, ModelResponse):
                    return outcome
                log.warning("%s; asking again in the next batch", outcome)
            item = _Item(key, params, asyncio.get_running_loop().create_future())
            self._queue.append(item)
            self._maybe_submit()
            return await item.future
        finally:
            self._waiting -= 1

    async def aclose(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        tasks = [*self._waves, *self._earlier_results.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._fail(self._queue, ModelError(f"{self.name}: the run stopped before this turn was batched"))
        self._queue = []
        await self.inner.aclose()

    # -- waves --------------------------------------------------------------------------------------

    def _maybe_submit(self) -> None:
        # a conversation cancelled while queued (Ctrl-C) needs no reply: never pay for it
        self._queue = [item for item in self._queue if not item.future.done()]
        if not self._queue or self._closed:
            return
        if self._live is None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = asyncio.get_running_loop().call_later(self.quiet_s, self._submit)
        elif self._waiting >= self._live:
            self._submit()

    def _submit(self) -> None:
        self._timer = None
        items = [item for item in self._queue if not item.future.done()]
        self._queue = []
        if not items or self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._wave(items))
        self._waves.add(task)
        task.add_done_callback(self._waves.discard)

    async def _wave(self, items: list[_Item]) -> None:
        groups: dict[str, list[_Item]] = {}  # identical requests (same custom_id) are asked once
        for item in items:
            groups.setdefault(item.key, []).append(item)
        batch_id = ""
        submit = self._start_submit(groups)
        try:
            batch_id, ended = await asyncio.shield(submit)
            outcomes = await self._collect(batch_id, ended)
        except ModelError as err:
            self._fail(items, err)
            return
        except Exception as exc:  # an SDK error no classifier knows, an unreadable file: fail, do not hang
            self._fail(items, self._unexpected(batch_id, exc))
            return
        except asyncio.CancelledError:
            if not submit.done():  # the provider may have the batch already: wait for its id to be journaled
                await asyncio.wait([submit], timeout=min(self._api.timeout_s, 30.0))
            if submit.done() and not submit.cancelled() and submit.exception() is None:
                batch_id = submit.result()[0]
            where = f" (batch {batch_id}; 'evalkit run --resume RUN' polls it again)" if batch_id else ""
            self._fail(items, ModelError(f"{self.name}: the run stopped while a batch was out{where}"))
            raise
        resubmitted = False
        for key, group in groups.items():
            outcome = outcomes.get(key) or ModelError(
                f"{self.name}: batch {batch_id} returned no result for a request", retryable=True
            )
            if isinstance(outcome, ModelResponse):
                for item in group:
                    if not item.future.done():
                        item.future.set_result(outcome)
            elif outcome.retryable and group[0].resubmits < self._max_resubmits and not self._closed:
                log.warning("%s; sending it again in the next batch", outcome)
                for item in group:
                    item.resubmits += 1
                self._queue.extend(group)
                resubmitted = True
            else:
                if outcome.retryable:
                    outcome = ModelError(
                        f"{outcome} (gave up after {group[0].resubmits + 1} batches)",
                        retryable=True,
                        status=outcome.status,
                    )
                self._fail(group, outcome)
        if resubmitted:
            self._maybe_submit()

    def _start_submit(self, groups: dict[str, list[_Item]]) -> asyncio.Future[tuple[str, bool]]:
        """Create the batch (its id, and whether it has ended); it is journaled as soon as it exists."""
        items = [(key, group[0].params) for key, group in groups.items()]
        submit = asyncio.ensure_future(self._api.submit(items))
        submit.add_done_callback(self._journal_submitted(list(groups)))
        return submit

    def _journal_submitted(self, custom_ids: list[str]) -> Callable[[asyncio.Future[tuple[str, bool]]], None]:
        def done(submit: asyncio.Future[tuple[str, bool]]) -> None:
            if not submit.cancelled() and submit.exception() is None:
                batch_id = submit.result()[0]
                self.submitted.append(batch_id)
                self._record("batch_submitted", provider=self.provider, batch=batch_id, custom_ids=custom_ids)

        return done

    async def _collect(self, batch_id: str, ended: bool) -> dict[str, Outcome]:
        """Poll ``batch_id`` with backoff until it has ended, then read its results."""
        delays = self.polling.delays()
        while not ended:
            await self._sleep(next(delays))
            ended = await self._api.ended(batch_id)
        outcomes = await self._api.results(batch_id)
        succeeded = sum(1 for o in outcomes.values() if isinstance(o, ModelResponse))
        self._record("batch_done", batch=batch_id, succeeded=succeeded, failed=len(outcomes) - succeeded)
        return outcomes

    async def _earlier_outcome(self, batch_id: str, key: str) -> Outcome:
        """The result for ``key`` in a batch submitted before a restart (polled once per batch)."""
        task = self._earlier_results.get(batch_id)
        if task is None:
            log.info("%s: polling batch %s, submitted before the restart", self.name, batch_id)
            task = asyncio.get_running_loop().create_task(self._collect(batch_id, False))
            self._earlier_results[batch_id] = task
        try:
            outcomes = await asyncio.shield(task)
        except Exception as exc:
            error = exc if isinstance(exc, ModelError) else self._unexpected(batch_id, exc)
            return ModelError(
                f"{self.name}: batch {batch_id} from before the restart is unreadable ({error})"
            )
        return outcomes.get(key) or ModelError(f"{self.name}: batch {batch_id} has no result for a request")

    def _unexpected(self, batch_id: str, exc: Exception) -> ModelError:
        where = f"batch {batch_id}" if batch_id else "submitting a batch"
        said = one_line(f"{type(exc).__name__}: {exc}", self._api.errors.secret)
        return ModelError(f"{self.name}: {where} failed ({said})")

    def _record(self, type: str, **data: Any) -> None:
        if self.journal is not None:
            self.journal.event(type, model=self.name, **data)

    @staticmethod
    def _fail(items: Iterable[_Item], error: ModelError) -> None:
        for item in items:
            if not item.future.done():
                item.future.set_exception(error)


# -- the providers' batch APIs ----------------------------------------------------------------------


class _ProviderBatches:
    """What both batch APIs share: the adapter's client, retries and error messages."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.client = model.client  # the adapter's SDK client (its key, base URL, no own retries)
        self.errors: ErrorContext = model.errors
        self.policy: RetryPolicy = model.retry_policy
        self.timeout_s: float = model.settings.timeout_s

    def params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = self.model.request_params(request)
        return params

    async def call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        def classify(exc: Exception) -> Failure | None:
            failure: Failure | None = self.model.classify(exc, self.timeout_s)
            if failure is None or failure.error.status != 404:
                return failure
            # a 404 here is about the batch API or a batch, not the model id
            if what == "create":
                where = f"the server at {self.errors.base_url}" if self.errors.base_url else "the provider"
                message = f"{where} has no batch API (404); run without --batch"
            else:
                message = f"no such batch or batch file (404, asking for the {what})"
            return Failure(ModelError(f"{self.errors.model}: {message}", status=404))

        return await call_with_retries(call, self.policy, classify)

    def item_error(self, status: int, body: object) -> ModelError:
        return status_failure(self.errors, status, {}, body).error

    async def submit(self, items: list[tuple[str, dict[str, Any]]]) -> tuple[str, bool]:
        """Create a batch of ``(custom_id, params)``; its id, and whether it has already ended."""
        raise NotImplementedError

    async def ended(self, batch_id: str) -> bool:
        raise NotImplementedError

    async def results(self, batch_id: str) -> dict[str, Outcome]:
        """Each item's reply, or its error (retryable when asking again may help)."""
        raise NotImplementedError


class _AnthropicBatches(_ProviderBatches):
    """Anthropic Message Batches: ``messages.batches.create / retrieve / results``."""

    async def submit(self, items: list[tuple[str, dict[str, Any]]]) -> tuple[str, bool]:
        requests: Any = [{"custom_id": key, "params": params} for key, params in items]
        batches = self.client.messages.batches
        batch = await self.call("create", lambda: batches.create(requests=requests, timeout=self.timeout_s))
        return batch.id, batch.processing_status == "ended"

    async def ended(self, batch_id: str) -> bool:
        batches = self.client.messages.batches
        batch = await self.call("poll", lambda: batches.retrieve(batch_id, timeout=self.timeout_s))
        return bool(batch.processing_status == "ended")

    async def results(self, batch_id: str) -> dict[str, Outcome]:
        async def fetch() -> list[Any]:
            decoder = await self.client.messages.batches.results(batch_id, timeout=self.timeout_s)
            return [entry async for entry in decoder]

        outcomes: dict[str, Outcome] = {}
        for entry in await self.call("results", fetch):
            result = entry.result
            if result.type == "succeeded":
                outcomes[entry.custom_id] = self.model.parse_response(result.message)
            elif result.type == "errored":
                body = result.error.model_dump()
                kind = (body.get("error") or {}).get("type", "")
                outcomes[entry.custom_id] = self.item_error(_ANTHROPIC_STATUS.get(kind, 500), body)
            else:  # "canceled" or "expired": never processed
                outcomes[entry.custom_id] = ModelError(
                    f"{self.errors.model}: batch request {result.type}", retryable=True
                )
        return outcomes


class _OpenAIBatches(_ProviderBatches):
    """OpenAI Batch: upload a JSONL file (``purpose="batch"``), ``batches.create``, read the output files."""

    ENDPOINT = "/v1/chat/completions"

    async def submit(self, items: list[tuple[str, dict[str, Any]]]) -> tuple[str, bool]:
        lines = (
            json.dumps({"custom_id": key, "method": "POST", "url": self.ENDPOINT, "body": params})
            for key, params in items
        )
        content = "".join(line + "\n" for line in lines).encode()
        client = self.client
        upload = await self.call(
            "create",
            lambda: client.files.create(
                file=("evalkit-batch.jsonl", content), purpose="batch", timeout=self.timeout_s
            ),
        )
        batch = await self.call(
            "create",
            lambda: client.batches.create(
                input_file_id=upload.id,
                endpoint=self.ENDPOINT,
                completion_window="24h",
                timeout=self.timeout_s,
            ),
        )
        return batch.id, batch.status in _OPENAI_ENDED

    async def ended(self, batch_id: str) -> bool:
        batch = await self.call(
            "poll", lambda: self.client.batches.retrieve(batch_id, timeout=self.timeout_s)
        )
        return batch.status in _OPENAI_ENDED

    async def results(self, batch_id: str) -> dict[str, Outcome]:
        client = self.client
        batch = await self.call("results", lambda: client.batches.retrieve(batch_id, timeout=self.timeout_s))
        if batch.status == "failed":
            reasons = "; ".join(
                e.message or e.code or "" for e in (batch.errors.data if batch.errors else None) or []
            )
            raise ModelError(
                f"{self.errors.model}: batch {batch_id} failed: {one_line(reasons or 'no reason given')}"
            )
        outcomes: dict[str, Outcome] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                text = await self.call("results", functools.partial(self._file_text, file_id))
                for line in text.splitlines():
                    self._read_line(line, outcomes)
        return outcomes

    async def _file_text(self, file_id: str) -> str:
        content = await self.client.files.content(file_id, timeout=self.timeout_s)
        return str(content.text)

    def _read_line(self, line: str, outcomes: dict[str, Outcome]) -> None:
        """One line of an output or error file: a reply, an error reply, or a request never processed."""
        from openai.types.chat import ChatCompletion
        from pydantic import ValidationError

        if not line.strip():
            return
        entry = json.loads(line)
        custom_id = str(entry.get("custom_id"))
        response = entry.get("response") or {}
        status = int(response.get("status_code") or 0)
        if status == 200:
            try:
                completion = ChatCompletion.model_validate(response.get("body"))
                outcomes[custom_id] = self.model.parse_response(completion)
            except (ValidationError, ModelError) as err:
                outcomes[custom_id] = ModelError(
                    f"{self.errors.model}: unreadable batch reply ({one_line(err, limit=120)})"
                )
        elif status:
            outcomes[custom_id] = self.item_error(status, response.get("body"))
        else:  # never processed (e.g. the batch expired)
            error = entry.get("error") or {}
            said = one_line(error.get("message") or error.get("code") or "not processed")
            outcomes[custom_id] = ModelError(
                f"{self.errors.model}: batch request failed: {said}", retryable=True
            )
