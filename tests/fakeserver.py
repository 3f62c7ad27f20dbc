"""A local fake of the Anthropic Messages and OpenAI Chat Completions HTTP APIs.

Tests point the real SDKs at it: a threaded HTTP server on 127.0.0.1 (random
port) that answers ``POST /v1/messages`` and ``POST /v1/chat/completions`` in the
providers' wire formats, records every request, and can be told to misbehave.

Example::

    with FakeProvider(api_key="sk-test") as fake:
        fake.reply("first", Reply("second", thinking="hmm", output_tokens=7))
        fake.respond_with(lambda call: f"answer to {call.last_user}")  # after the queue runs out
        fake.fail(Fault.rate_limit(retry_after="2"), Fault.drop())      # the next two requests
        fake.latency_s = 0.05
        ...  # AsyncAnthropic(base_url=fake.anthropic_base_url) / AsyncOpenAI(base_url=fake.openai_base_url)
        assert fake.request_count == 4 and fake.max_in_flight == 1
        assert fake.requests[-1].body["messages"][0]["content"] == "hi"

What answers a chat request, in order: a fault (the :meth:`FakeProvider.fail`
queue, then :meth:`FakeProvider.fail_when`, then :meth:`FakeProvider.fail_randomly`),
then the auth / model / request checks a real server makes, then the
:meth:`FakeProvider.reply` queue, then the :meth:`FakeProvider.respond_with`
function, then ``default_reply``. A faulted request does not use up a reply, so
the retry of a failed request gets the reply the failed one would have got.

Prompt caching is accounted the way the real APIs report it (tests/fakecache.py): Anthropic
reads and writes where a request puts ``cache_control`` breakpoints and says so in
``cache_read_input_tokens`` / ``cache_creation_input_tokens``; OpenAI caches prompts of 1,024
tokens or more by itself and says so in ``prompt_tokens_details``. ``FakeProvider(prompt_cache=False)``
turns it off; a :class:`Reply` with ``input_tokens`` set is never cached.

More endpoints (the Anthropic Message Batches API, OpenAI ``/v1/files`` and
``/v1/batches``) plug in with :meth:`FakeProvider.route`; faults, latency and
recording apply to them too.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from tests.fakecache import CacheUse, PromptCache, tokens

__all__ = [
    "FAKE_ANTHROPIC_KEY",
    "FAKE_OPENAI_KEY",
    "Api",
    "ChatCall",
    "FakeProvider",
    "Fault",
    "HTTPReply",
    "HTTPRequest",
    "RecordedRequest",
    "Reply",
    "provider_error",
    "text_of",
]

# Keys for tests to put in ANTHROPIC_API_KEY / OPENAI_API_KEY: long and unique, so a leak is easy to find.
FAKE_ANTHROPIC_KEY = "test-anthropic-key-not-a-secret-7c1e9b2d4f6a8c0e"
FAKE_OPENAI_KEY = "test-openai-key-not-a-secret-3a5c7e9b1d2f4a6c8e"

Api = Literal["anthropic", "openai"]
_AUTH_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})
_STOP_TO_FINISH = {
    "end_turn": "stop",
    "max_tokens": "length",
    "stop_sequence": "stop",
    "refusal": "content_filter",
}


@dataclass(frozen=True)
class Reply:
    """A scripted model reply; token counts default to the request's and the reply's characters / 4."""

    text: str
    thinking: str | None = None  # Anthropic only: sent as a thinking block before the text
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str = "end_turn"  # Anthropic spelling; mapped to OpenAI's finish_reason
    model: str | None = None  # defaults to the requested model


@dataclass(frozen=True)
class Fault:
    """A way for one request to fail. Build with the class methods."""

    kind: Literal["status", "hang", "drop"]
    status: int = 0
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0

    @classmethod
    def rate_limit(cls, retry_after: str | float | None = None, retry_after_ms: int | None = None) -> Fault:
        """429, with ``retry-after`` (seconds or an HTTP date) and/or ``retry-after-ms`` if given."""
        headers = []
        if retry_after is not None:
            headers.append(("retry-after", str(retry_after)))
        if retry_after_ms is not None:
            headers.append(("retry-after-ms", str(retry_after_ms)))
        return cls("status", 429, "Number of request tokens has exceeded your rate limit.", tuple(headers))

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status, "Internal server error")

    @classmethod
    def overloaded(cls) -> Fault:
        """Anthropic's 529 ``overloaded_error``."""
        return cls("status", 529, "Overloaded")

    @classmethod
    def error(cls, status: int, message: str, headers: dict[str, str] | None = None) -> Fault:
        """Any status with a provider-shaped error body (400 bad request, 403, ...)."""
        return cls("status", status, message, tuple((headers or {}).items()))

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:
        """Read the request, then send nothing for ``seconds`` (cut short by ``close()``) and close."""
        return cls("hang", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Read the request, then close the connection without a response."""
        return cls("drop")


@dataclass(frozen=True)
class ChatCall:
    """A chat request as a responder sees it: the conversation, whichever API it came through."""

    api: Api
    index: int  # 0-based number of the HTTP request
    model: str
    system: str | None
    messages: tuple[tuple[str, str], ...]  # (role, text)
    body: dict[str, Any]

    @property
    def last_user(self) -> str:
        return next((text for role, text in reversed(self.messages) if role == "user"), "")


@dataclass
class RecordedRequest:
    """One HTTP request the fake received. ``headers`` are lower-cased, without credentials."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or None
    auth: str | None  # which credential header came ("x-api-key", "bearer", None), never its value
    outcome: str = "pending"  # "200", "429", ..., "dropped", "hung"

    @property
    def api(self) -> Api | None:
        if self.path.startswith("/v1/messages"):
            return "anthropic"
        if (
            self.path.startswith("/v1/chat/")
            or self.path.startswith("/v1/files")
            or self.path.startswith("/v1/batches")
        ):
            return "openai"
        return None


@dataclass(frozen=True)
class HTTPReply:
    """What a route handler returns."""

    status: int
    body: Any  # JSON-encoded, unless bytes (sent as is, e.g. a JSONL file)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HTTPRequest:
    """What a route handler gets."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased, including credentials
    body: Any  # parsed JSON, or the text of a non-JSON body, or None
    index: int
    match: re.Match[str]
    raw: bytes = b""  # the body as sent (multipart uploads)


Handler = Callable[[HTTPRequest], HTTPReply]
Responder = Callable[[ChatCall], "str | Reply"]


class FakeProvider:
    """A fake Anthropic + OpenAI API server on 127.0.0.1; use as a context manager or call ``close()``.

    ``api_key``: when set, requests must carry it (``x-api-key`` or ``Authorization: Bearer``) or get 401,
    whose message echoes the wrong key the way a careless server might.
    ``models``: when set, other model ids get the provider's 404.
    ``latency_s``: seconds (or a function of the :class:`ChatCall`) to wait before each answer.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Iterable[str] | None = None,
        latency_s: float | Callable[[ChatCall | None], float] = 0.0,
        default_reply: str = "ok",
        prompt_cache: bool = True,
        cache_min_tokens: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.prompt_cache = PromptCache(min_tokens=cache_min_tokens) if prompt_cache else None
        self.models = frozenset(models) if models is not None else None
        self.latency_s = latency_s
        self.default_reply = default_reply
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._replies: deque[Reply] = deque()
        self._responder: Responder | None = None
        self._faults: deque[Fault] = deque()
        self._fault_when: Callable[[RecordedRequest], Fault | None] | None = None
        self._fault_random: tuple[float, tuple[Fault, ...], random.Random] | None = None
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._errors: list[str] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.route("POST", "/v1/messages", self._anthropic_messages)
        self.route("POST", "/v1/chat/completions", self._openai_chat)

        self._server = _Server(("127.0.0.1", 0), _RequestHandler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-provider",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    # -- where it listens -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def anthropic_base_url(self) -> str:
        """For ``AsyncAnthropic(base_url=...)`` / ``ANTHROPIC_BASE_URL`` (the SDK adds ``/v1/messages``)."""
        return self.url

    @property
    def openai_base_url(self) -> str:
        """For ``AsyncOpenAI(base_url=...)`` / ``--base-url`` (the SDK adds ``/chat/completions``)."""
        return self.url + "/v1"

    # -- scripting --------------------------------------------------------------------------------

    def reply(self, *replies: str | Reply) -> None:
        """Queue replies for the next chat requests, in order."""
        with self._lock:
            self._replies.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def respond_with(self, responder: Responder | None) -> None:
        """Answer chat requests (once the reply queue is empty) with ``responder(call)``: text or a Reply.

        It runs on the server's threads, so it must be thread-safe.
        """
        self._responder = responder

    # -- faults -----------------------------------------------------------------------------------

    def fail(self, *faults: Fault) -> None:
        """Make the next ``len(faults)`` requests fail, in order."""
        with self._lock:
            self._faults.extend(faults)

    def fail_when(self, rule: Callable[[RecordedRequest], Fault | None] | None) -> None:
        """Fail every request for which ``rule(request)`` returns a Fault (e.g. by ``request.index``)."""
        self._fault_when = rule

    def fail_randomly(self, probability: float, *faults: Fault, seed: int = 0) -> None:
        """Fail each request with ``probability``, with a fault drawn from ``faults`` (seeded, repeatable)."""
        if not faults:
            raise ValueError("fail_randomly needs at least one Fault")
        self._fault_random = (probability, faults, random.Random(seed))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._fault_when = None
            self._fault_random = None

    # -- what happened ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (a copy), oldest first."""
        with self._lock:
            return list(self._requests)

    def chat_requests(self, api: Api | None = None) -> list[RecordedRequest]:
        """The chat requests (``/v1/messages``, ``/v1/chat/completions``) received, optionally of one API."""
        chat_paths = {"/v1/messages": "anthropic", "/v1/chat/completions": "openai"}
        return [
            r for r in self.requests if r.path in chat_paths and (api is None or chat_paths[r.path] == api)
        ]

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests that were being answered at the same time."""
        with self._lock:
            return self._max_in_flight

    def reset(self) -> None:
        """Forget recorded requests, counters, queued replies and faults."""
        with self._lock:
            self._requests.clear()
            self._max_in_flight = self._in_flight
            self._replies.clear()
            self._faults.clear()
        if self.prompt_cache is not None:
            self.prompt_cache.clear()
        self._responder = None
        self._fault_when = None
        self._fault_random = None

    # -- extension --------------------------------------------------------------------------------

    def route(self, method: str, path_pattern: str, handler: Handler) -> None:
        """Answer ``method`` requests whose path fully matches the regex ``path_pattern`` with ``handler``.

        Later routes win, so a test can override a built-in endpoint.
        """
        self._routes.insert(0, (method.upper(), re.compile(path_pattern), handler))

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the server, cut hanging requests short, and join every thread.

        Raises AssertionError if a responder or route handler raised while serving.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()  # joins the request threads
        self._thread.join()
        if self._errors:
            raise AssertionError("fake provider handler failed: " + "; ".join(self._errors))

    def __enter__(self) -> FakeProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving (on the server's threads) --------------------------------------------------------

    def _handle(self, handler: _RequestHandler) -> None:
        method = handler.command
        path, _, query = handler.path.partition("?")
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        try:
            raw = handler.rfile.read(length) if length else b""
        except OSError:
            raw = b""
        if len(raw) < length:  # the client went away mid-request (e.g. it was killed): not a request
            handler.close_connection = True
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        auth = "x-api-key" if "x-api-key" in headers else "bearer" if "authorization" in headers else None
        with self._lock:
            record = RecordedRequest(
                index=len(self._requests),
                method=method,
                path=path,
                headers={k: v for k, v in headers.items() if k not in _AUTH_HEADERS},
                body=body,
                auth=auth,
            )
            self._requests.append(record)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            fault = self._next_fault(record)
        try:
            call = _chat_call(record)
            latency = self.latency_s(call) if callable(self.latency_s) else self.latency_s
            if latency > 0:
                self._stop.wait(latency)
            if fault is not None and fault.kind == "drop":
                record.outcome = "dropped"
                self._drop(handler)
                return
            if fault is not None and fault.kind == "hang":
                record.outcome = "hung"
                self._stop.wait(fault.seconds)
                self._drop(handler)
                return
            if fault is not None:
                reply = provider_error(record.api, fault.status, fault.message, dict(fault.headers))
            else:
                reply = self._dispatch(method, path, query, headers, body, raw, record)
            record.outcome = str(reply.status)
            self._send(handler, reply, record)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _next_fault(self, record: RecordedRequest) -> Fault | None:
        if self._faults:
            return self._faults.popleft()
        if self._fault_when is not None:
            fault = self._fault_when(record)
            if fault is not None:
                return fault
        if self._fault_random is not None:
            probability, faults, rng = self._fault_random
            if rng.random() < probability:
                return rng.choice(faults)
        return None

    def _dispatch(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: Any,
        raw: bytes,
        record: RecordedRequest,
    ) -> HTTPReply:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                try:
                    return handler(HTTPRequest(method, path, query, headers, body, record.index, match, raw))
                except Exception as exc:  # a broken test script: report it at close()
                    self._errors.append(f"{method} {path}: {exc!r}")
                    return provider_error(
                        record.api, 500, f"fake handler raised {exc!r}", {"x-should-retry": "false"}
                    )
        return provider_error(record.api, 404, f"no route for {method} {path}")

    def _send(self, handler: _RequestHandler, reply: HTTPReply, record: RecordedRequest) -> None:
        raw = isinstance(reply.body, bytes)
        data = reply.body if raw else json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        if "content-type" not in {name.lower() for name in reply.headers}:
            handler.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
        handler.send_header("Content-Length", str(len(data)))
        request_id = f"req_fake_{record.index:04d}"
        handler.send_header("request-id" if record.api == "anthropic" else "x-request-id", request_id)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _drop(handler: _RequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def check_auth(self, api: Api, headers: dict[str, str]) -> HTTPReply | None:
        """The provider's 401 when ``api_key`` is set and the request does not carry it; else None."""
        if self.api_key is None:
            return None
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if given == self.api_key:
            return None
        message = (
            f"invalid x-api-key: {given}"
            if api == "anthropic"
            else f"Incorrect API key provided: {given}. You can find your API key at the dashboard."
        )
        return provider_error(api, 401, message)

    def answer_chat(
        self, api: Api, body: Any, *, index: int = 0, anthropic_version: str = "2026-10-21"
    ) -> HTTPReply:
        """Check a chat request body the way the provider would and answer it from the script.

        The routes for ``/v1/messages`` and ``/v1/chat/completions`` use it after the auth check;
        so can other endpoints that carry chat requests (batches).
        """
        body = body if isinstance(body, dict) else {}
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return provider_error(api, 400, "model: Field required")
        if self.models is not None and model not in self.models:
            message = (
                f"model: {model}"
                if api == "anthropic"
                else f"The model `{model}` does not exist or you do not have access to it."
            )
            return provider_error(api, 404, message)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return provider_error(api, 400, "messages: at least one message is required")
        if api == "anthropic":
            error = _anthropic_rules(body, anthropic_version)
            if error is not None:
                return provider_error(api, 400, error)
        call = _chat_call_for(api, index, body)
        reply = self._next_reply(call)
        cache = self._cache_use(call, reply)
        builder = _anthropic_message if api == "anthropic" else _openai_completion
        return HTTPReply(200, builder(call, reply, cache))

    def _cache_use(self, call: ChatCall, reply: Reply) -> CacheUse:
        """How the request's input was served from the prompt cache (all uncached with caching off)."""
        total, _ = _token_counts(call, reply)
        if self.prompt_cache is None or reply.input_tokens is not None:
            return CacheUse(total)
        if call.api == "openai":
            system = [("system", call.system)] if call.system is not None else []
            return self.prompt_cache.openai(call.model, [*system, *call.messages])
        return self.prompt_cache.anthropic(call.model, _anthropic_blocks(call.body))

    def _next_reply(self, call: ChatCall) -> Reply:
        with self._lock:
            queued = self._replies.popleft() if self._replies else None
        if queued is not None:
            return queued
        if self._responder is not None:
            answer = self._responder(call)
            return answer if isinstance(answer, Reply) else Reply(str(answer))
        return Reply(self.default_reply)

    def _anthropic_messages(self, request: HTTPRequest) -> HTTPReply:
        error = self.check_auth("anthropic", request.headers)
        if error is not None:
            return error
        version = request.headers.get("anthropic-version")
        if version is None:
            return provider_error("anthropic", 400, "anthropic-version: header is required")
        return self.answer_chat("anthropic", request.body, index=request.index, anthropic_version=version)

    def _openai_chat(self, request: HTTPRequest) -> HTTPReply:
        error = self.check_auth("openai", request.headers)
        return error or self.answer_chat("openai", request.body, index=request.index)


def _anthropic_rules(body: dict[str, Any], version: str) -> str | None:
    """What the Messages API would reject in ``body`` (beyond model and messages), or None."""
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    sampling = [name for name in ("temperature", "top_p", "top_k") if name in body]
    if sampling and version >= "2026-10-21":
        return f"{sampling[0]}: Extra inputs are not permitted"
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        if body.get("temperature") not in (None, 1):
            return "temperature may only be set to 1 when thinking is enabled or in adaptive mode"
        budget = thinking.get("budget_tokens")
        if thinking["type"] == "enabled" and not (
            isinstance(budget, int) and 1024 <= budget < body["max_tokens"]
        ):
            return "thinking.budget_tokens: must be at least 1024 and less than max_tokens"
    return None


def _anthropic_blocks(body: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """A Messages request's content blocks in cache order (system, then messages), with their breakpoints."""
    blocks: list[tuple[str, str, bool]] = []

    def add(role: str, content: Any) -> None:
        if isinstance(content, str):
            blocks.append((role, content, False))
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    blocks.append((role, str(part.get("text", "")), "cache_control" in part))

    if "system" in body:
        add("system", body["system"])
    for message in body.get("messages", []):
        if isinstance(message, dict):
            add(str(message.get("role")), message.get("content"))
    return blocks


def _anthropic_message(call: ChatCall, reply: Reply, cache: CacheUse) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.thinking is not None:
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": "fake-signature"})
    content.append({"type": "text", "text": reply.text})
    _, output_tokens = _token_counts(call, reply)
    return {
        "id": f"msg_fake_{call.index:04d}",
        "type": "message",
        "role": "assistant",
        "model": reply.model or call.model,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": cache.uncached,  # after the last cache breakpoint
            "cache_creation_input_tokens": cache.written,
            "cache_read_input_tokens": cache.read,
            "output_tokens": output_tokens,
        },
    }


def _openai_completion(call: ChatCall, reply: Reply, cache: CacheUse) -> dict[str, Any]:
    input_tokens, output_tokens = cache.total, _token_counts(call, reply)[1]
    return {
        "id": f"chatcmpl-fake-{call.index:04d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or call.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None},
                "finish_reason": _STOP_TO_FINISH.get(reply.stop_reason, reply.stop_reason),
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "prompt_tokens_details": {"cached_tokens": cache.read, "cache_write_tokens": cache.written},
        },
    }


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of text blocks / parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _chat_call_for(api: Api, index: int, body: dict[str, Any]) -> ChatCall:
    messages = [(str(m.get("role")), text_of(m.get("content"))) for m in body.get("messages", [])]
    system: str | None = None
    if api == "anthropic":
        system = text_of(body["system"]) if "system" in body else None
    elif messages and messages[0][0] in ("system", "developer"):
        system = messages.pop(0)[1]
    return ChatCall(api, index, str(body.get("model", "")), system, tuple(messages), body)


def _chat_call(record: RecordedRequest) -> ChatCall | None:
    if record.path in ("/v1/messages", "/v1/chat/completions") and isinstance(record.body, dict):
        api: Api = "anthropic" if record.path == "/v1/messages" else "openai"
        return _chat_call_for(api, record.index, record.body)
    return None


def _token_counts(call: ChatCall, reply: Reply) -> tuple[int, int]:
    tokens_in = tokens(call.system or "") + sum(tokens(text) for _, text in call.messages)
    tokens_out = tokens(reply.text) + tokens(reply.thinking or "")
    return (
        reply.input_tokens if reply.input_tokens is not None else max(tokens_in, 1),
        reply.output_tokens if reply.output_tokens is not None else max(tokens_out, 1),
    )


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_OPENAI_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


def provider_error(
    api: Api | None, status: int, message: str, headers: dict[str, str] | None = None
) -> HTTPReply:
    """An error in the provider's shape (Anthropic's ``{"type": "error", ...}`` or OpenAI's ``{"error": ...}``)."""
    if api == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        kind = "invalid_request_error" if status < 500 else "server_error"
        body = {
            "error": {
                "message": message,
                "type": kind,
                "param": None,
                "code": _OPENAI_ERROR_CODES.get(status),
            }
        }
    return HTTPReply(status, body, dict(headers or {}))


class _Server(ThreadingHTTPServer):
    """Joins its request threads on close and can cut open keep-alive connections."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 256  # many concurrent conversations connect at once (listen backlog)
    fake: FakeProvider

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-reply (it timed out) is expected; anything else is reported."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs
    timeout = 30  # an idle keep-alive connection does not hold a thread forever
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every reply on a reused connection
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    do_GET = do_POST
    do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass
