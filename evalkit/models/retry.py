"""Retrying provider calls: exponential backoff with full jitter, honouring ``retry-after``.

The provider SDK clients are built with ``max_retries=0``; each adapter wraps its
call in :func:`call_with_retries` and gives it a classifier that turns an SDK
exception into a :class:`Failure` (a one-line :class:`ModelError` plus the delay
the server asked for). What is retried:

- 408, 409, 429, any 5xx (including Anthropic's 529 *overloaded*), timeouts and
  dropped connections, after ``retry-after-ms`` / ``retry-after`` (seconds or an
  HTTP date) when the server sends one, otherwise after a random delay in
  ``[0, min(max_delay_s, base_delay_s * 2**retry)]`` ("full jitter");
- at most ``max_retries`` times, so a call makes at most ``max_retries + 1`` attempts.

400, 401, 403, 404 and other 4xx fail at once with a message that says what to
fix. No message built here contains the API key: provider text is passed
through :func:`one_line`, which redacts it, and errors are raised outside the
SDK exception's ``except`` block so they do not chain to it.

Example::

    policy = RetryPolicy(max_retries=3, base_delay_s=0.5)
    reply = await call_with_retries(lambda: client.messages.create(**params), policy, classify)

Tests make retries instant with an injected ``sleep`` or, for models built by the
registry, with :func:`retry_timing`.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TypeVar
from urllib.parse import urlsplit

from evalkit.errors import ContextFull, ModelError

__all__ = [
    "ErrorContext",
    "Failure",
    "RetryPolicy",
    "call_with_retries",
    "connection_failure",
    "connection_refused",
    "is_loopback",
    "one_line",
    "parse_retry_after",
    "probe_local_server",
    "refused_here",
    "retry_timing",
    "status_failure",
    "timeout_failure",
]

log = logging.getLogger("evalkit.models")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

# Statuses that fail fast even if the server sends ``x-should-retry: true``.
FAIL_FAST_STATUSES = frozenset({400, 401, 403, 404})
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts of one model call.

    ``sleep`` and ``jitter`` (a function returning a float in ``[0, 1)``) are
    injectable so tests can record delays instead of waiting.
    """

    max_retries: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_retry_after_s: float = 600.0  # a server asking for longer is waited on only this long
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"delays must be >= 0, got base {self.base_delay_s}, max {self.max_delay_s}")

    @classmethod
    def for_settings(cls, max_retries: int) -> RetryPolicy:
        """The default policy for ``max_retries``, with any :func:`retry_timing` override applied."""
        timing = _TIMING.get()
        policy = cls(max_retries=max_retries)
        if timing is not None:
            if timing.base_delay_s is not None:
                policy = replace(policy, base_delay_s=timing.base_delay_s)
            if timing.sleep is not None:
                policy = replace(policy, sleep=timing.sleep)
        return policy

    def backoff_s(self, retry: int) -> float:
        """Full-jitter exponential backoff before retry number ``retry`` (0-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** min(retry, 62))
        return self.jitter() * ceiling

    def delay_s(self, retry: int, retry_after_s: float | None) -> float:
        """The server's ``retry-after`` when it sent one (capped), else :meth:`backoff_s`."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_retry_after_s)
        return self.backoff_s(retry)


@dataclass(frozen=True)
class _Timing:
    base_delay_s: float | None = None
    sleep: Sleep | None = None


_TIMING: ContextVar[_Timing | None] = ContextVar("evalkit_retry_timing", default=None)


@contextmanager
def retry_timing(*, base_delay_s: float | None = None, sleep: Sleep | None = None) -> Iterator[None]:
    """Override backoff timing for models created inside the block (for tests).

    Example::

        with retry_timing(base_delay_s=0.001):
            model = resolve_model("anthropic:claude-opus-4-5", settings)
    """
    outer = _TIMING.get() or _Timing()
    token = _TIMING.set(
        _Timing(
            base_delay_s=outer.base_delay_s if base_delay_s is None else base_delay_s,
            sleep=outer.sleep if sleep is None else sleep,
        )
    )
    try:
        yield
    finally:
        _TIMING.reset(token)


@dataclass(frozen=True)
class Failure:
    """One failed attempt: the error to raise if we stop, and the wait the server asked for."""

    error: ModelError
    retry_after_s: float | None = None


@dataclass(frozen=True)
class ErrorContext:
    """What error messages need to say what to fix (never the key itself, only its variable)."""

    model: str  # "anthropic:claude-opus-4-5"
    model_id: str  # "claude-opus-4-5"
    key_env: str  # "ANTHROPIC_API_KEY"
    base_url: str | None = None  # a custom server or proxy, if any
    secret: str | None = field(default=None, repr=False)  # redacted from provider text


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    classify: Callable[[Exception], Failure | None],
) -> T:
    """Await ``call()``; on a retryable :class:`Failure` wait and try again, up to ``policy.max_retries`` times.

    ``classify`` returns None for exceptions it does not know, which propagate unchanged.
    """
    retries = 0
    while True:
        failure: Failure | None = None
        try:
            return await call()
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
        # Raised outside the except block so the error does not chain to the SDK exception.
        error = failure.error
        if not error.retryable:
            raise error
        if retries >= policy.max_retries:
            attempts = "1 attempt" if retries == 0 else f"{retries + 1} attempts"
            raise ModelError(f"{error} (gave up after {attempts})", retryable=True, status=error.status)
        delay = policy.delay_s(retries, failure.retry_after_s)
        log.warning("%s; retry %d/%d in %.1fs", error, retries + 1, policy.max_retries, delay)
        await policy.sleep(delay)
        retries += 1


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``retry-after`` as seconds or an HTTP date; None if absent.

    ``parse_retry_after({"retry-after": "2"})`` → 2.0; a date in the past gives 0.0.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def one_line(text: object, secret: str | None = None, limit: int = _MESSAGE_LIMIT) -> str:
    """``text`` on one line, at most ``limit`` characters, with ``secret`` replaced by ``***``."""
    flat = " ".join(str(text).split())
    if secret:
        flat = flat.replace(secret, "***")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def provider_message(body: object) -> str:
    """The human-readable ``error.message`` of a provider error body (or the body itself)."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    if body is None:
        return ""
    return str(body)


# how providers say a prompt is longer than the context: OpenAI's error code and vLLM's, Anthropic's and
# llama.cpp's messages
_CONTEXT_CODES = {"context_length_exceeded", "exceed_context_size_error"}
_CONTEXT_WORDS = re.compile(
    r"maximum context length|context length exceeded|prompt is too long|exceeds the available context size"
    r"|context size has been exceeded|context window",
    re.IGNORECASE,
)


def context_overflow(body: object, detail: str) -> bool:
    """Whether a 400 says the prompt does not fit the model's context (then no retry can help)."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict) and (
        error.get("code") in _CONTEXT_CODES or error.get("type") in _CONTEXT_CODES
    ):
        return True
    return bool(_CONTEXT_WORDS.search(detail))


def status_failure(ctx: ErrorContext, status: int, headers: Mapping[str, str], body: object) -> Failure:
    """Classify an HTTP error status: what to tell the user, and whether (and when) to retry."""
    detail = one_line(provider_message(body), ctx.secret)
    said = f": {detail}" if detail else ""
    where = f" at {ctx.base_url}" if ctx.base_url else ""
    if status == 401:
        msg = f"{ctx.model}: the API key was rejected (401 unauthorized); check {ctx.key_env}"
        if ctx.base_url:
            msg += f" holds the key the server at {ctx.base_url} expects"
        return Failure(ModelError(msg, status=status))
    if status == 403:
        msg = f"{ctx.model}: permission denied (403){said}; check that the key in {ctx.key_env} may use this model"
        return Failure(ModelError(msg, status=status))
    if status == 404:
        msg = f"{ctx.model}: unknown model id {ctx.model_id!r} (404{said}); check the model name"
        if ctx.base_url:
            msg += f" and --base-url ({ctx.base_url})"
        return Failure(ModelError(msg, status=status))
    if status == 400:
        if context_overflow(body, detail):
            msg = f"{ctx.model}: the conversation no longer fits the model's context window (400{said})"
            return Failure(ContextFull(msg, status=status))
        return Failure(ModelError(f"{ctx.model}: request rejected (400){said}", status=status))

    lowered = {k.lower(): v for k, v in headers.items()}
    should_retry = lowered.get("x-should-retry")
    if status == 429:
        what = f"rate limited (429){said}"
    elif status == 529:
        what = f"provider overloaded (529){said}"
    elif status >= 500:
        what = f"server error ({status}){said}{where}"
    else:
        what = f"request failed ({status}){said}"
    retryable = status in (408, 409, 429) or status >= 500
    if should_retry == "true":
        retryable = status not in FAIL_FAST_STATUSES
    elif should_retry == "false":
        retryable = False
    retry_after = parse_retry_after(lowered) if retryable else None
    return Failure(ModelError(f"{ctx.model}: {what}", retryable=retryable, status=status), retry_after)


def timeout_failure(ctx: ErrorContext, timeout_s: float) -> Failure:
    """A request that got no reply within ``timeout_s``: retryable."""
    where = f" from {ctx.base_url}" if ctx.base_url else ""
    return Failure(
        ModelError(f"{ctx.model}: no reply within {timeout_s:g}s{where} (timeout)", retryable=True)
    )


def is_loopback(base_url: str | None) -> bool:
    """Whether ``base_url`` names this machine: ``localhost``, ``127.0.0.0/8`` or ``::1``."""
    host = (urlsplit(base_url).hostname or "") if base_url else ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connection_refused(exc: BaseException) -> bool:
    """Whether the connection behind an SDK's connection error was refused (nothing listens on the port)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ConnectionRefusedError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def refused_here(model: str, base_url: str) -> ModelError:
    """The error for a refused connection to a server on this machine: a configuration error, not retried."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return ModelError(
        f"{model}: nothing is listening at {base_url} (connection refused): "
        f"is the server running on port {port} of this machine, and is the URL right (--base-url)?"
    )


def probe_local_server(model: str, base_url: str | None, timeout_s: float = 1.0) -> None:
    """Raise :func:`refused_here`'s error if ``base_url`` is on this machine and nothing listens on its port.

    A run calls it before it loads anything, so a server that is not running is its first line,
    not a failure after start-up. Other hosts, and anything but a refusal, are left to the run.
    """
    if not base_url or not is_loopback(base_url):
        return
    parts = urlsplit(base_url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except ConnectionRefusedError:
        raise refused_here(model, base_url) from None
    except (OSError, ValueError):  # a timeout, an odd address: the run's own calls will say what it is
        return


def connection_failure(
    ctx: ErrorContext, detail: str, *, connect: bool = False, refused: bool = False
) -> Failure:
    """A connection that could not be made (``connect``) or was dropped: retryable.

    Except a connection ``refused`` on this machine (``--base-url http://127.0.0.1:8000/v1`` with no server
    on port 8000): waiting would not start the server, so it fails at once and says what to check.
    """
    said = one_line(detail, ctx.secret, limit=120)
    if refused and ctx.base_url and is_loopback(ctx.base_url):
        return Failure(refused_here(ctx.model, ctx.base_url))
    if ctx.base_url:
        msg = f"{ctx.model}: connection to {ctx.base_url} failed ({said})"
        if connect:
            msg += "; is the server running?"
    else:
        msg = f"{ctx.model}: connection failed ({said})"
        if connect:
            msg += "; check the network"
    return Failure(ModelError(msg, retryable=True))
