"""Claude through the Anthropic Messages API (``anthropic:claude-opus-4-5``).

The key comes from ``ANTHROPIC_API_KEY``; the base URL from the settings or
``ANTHROPIC_BASE_URL`` (a proxy or the test fake). The SDK is imported when the
first Anthropic model is created, and its client never retries on its own:
:mod:`evalkit.models.retry` does.

Extended thinking: with ``thinking_budget`` set, models before Claude 4.6 get
``{"type": "enabled", "budget_tokens": N}``. Claude 4.7 and later (and the Mythos
and Fable families) answer a token budget with 400 and 4.6 deprecates it, so from
4.6 on they get ``{"type": "adaptive", "display": "summarized"}``: thinking is on
and its text comes back (4.7+ would omit it by default), but the budget is not
passed on.

Temperature: anthropic SDK 2.x sends API version 2026-10-21, which rejects
``temperature`` (at any value, on every model), and has no parameter for it; so
with SDK 2.x a request with a temperature fails here, before anything is sent,
rather than be sampled at another temperature than the run records. Older SDKs
(API version 2023-06-01) send it, except with thinking, which needs the default.

Prompt caching (unless ``ModelSettings.prompt_cache`` is off): every problem's
conversation continues the same opening exchange, and each turn resends the whole
history, so a request carries up to two ``cache_control`` breakpoints: on the last
message of the shared opening exchange (read by every conversation that branches
from it) and on its last message (the growing history, read by the next turn).
The reply's ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` are kept
in :class:`Usage` and priced at the cache rates (:mod:`evalkit.pricing`).

Example::

    model = create("claude-opus-4-5", ModelSettings())
    reply = await model.generate(ModelRequest(messages=(Message("user", "2+2?"),), turn=Turn("opening")))
    await model.aclose()
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any

from evalkit.errors import MissingKeyError, ModelError
from evalkit.models.base import ModelRequest, ModelResponse, Usage
from evalkit.models.registry import ModelSettings
from evalkit.models.retry import (
    ErrorContext,
    Failure,
    RetryPolicy,
    call_with_retries,
    connection_failure,
    connection_refused,
    probe_local_server,
    status_failure,
    timeout_failure,
)

if TYPE_CHECKING:
    import anthropic

__all__ = [
    "KEY_ENV",
    "AnthropicModel",
    "cache_breakpoints",
    "create",
    "preflight",
    "require_key",
    "thinking_config",
    "uses_adaptive_thinking",
]

KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"

log = logging.getLogger("evalkit.models")


class AnthropicModel:
    """A Claude model behind an ``anthropic.AsyncAnthropic`` client that does not retry by itself."""

    provider = "anthropic"

    def __init__(
        self,
        model_id: str,
        client: anthropic.AsyncAnthropic,
        *,
        settings: ModelSettings,
        retry_policy: RetryPolicy,
        errors: ErrorContext,
        takes_temperature: bool = False,
    ) -> None:
        self.name = f"anthropic:{model_id}"
        self.takes_temperature = takes_temperature  # only SDKs before 2.0 (API version 2023-06-01)
        self.model_id = model_id
        self.settings = settings
        self.retry_policy = retry_policy
        self.client = client
        self.errors = errors

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        """The Messages API parameters for ``request`` (system, full history, options)."""
        options = request.options
        params: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": options.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if self.settings.prompt_cache:
            for index in cache_breakpoints(request):
                message = params["messages"][index]
                message["content"] = [
                    {"type": "text", "text": message["content"], "cache_control": {"type": "ephemeral"}}
                ]
        if request.system:
            params["system"] = request.system
        if options.temperature is not None and not self.takes_temperature:
            raise ModelError(
                f"{self.name}: Claude takes no temperature (Anthropic API 2026-10-21 rejects it); "
                "leave --temperature unset for Anthropic models"
            )
        if options.seed is not None:
            log.info("%s: Claude takes no seed; not sent", self.name)
        if options.thinking_budget is not None:
            params["thinking"] = thinking_config(self.model_id, options.thinking_budget, options.max_tokens)
            if options.temperature is not None:
                log.info("%s: temperature not sent: thinking needs the default", self.name)
        elif options.temperature is not None:
            params["temperature"] = options.temperature
        return params

    async def generate(self, request: ModelRequest) -> ModelResponse:
        params = self.request_params(request)
        timeout_s = min(self.settings.timeout_s, request.options.timeout_s)
        message = await call_with_retries(
            lambda: self.client.messages.create(**params, timeout=timeout_s),
            self.retry_policy,
            lambda exc: self.classify(exc, timeout_s),
        )
        return self.parse_response(message)

    def classify(self, exc: Exception, timeout_s: float) -> Failure | None:
        """An SDK exception as a retry decision (also used by the batch client); None if not an API error."""
        import anthropic

        if isinstance(exc, anthropic.APIStatusError):
            return status_failure(self.errors, exc.status_code, exc.response.headers, exc.body)
        if isinstance(exc, anthropic.APITimeoutError):
            return timeout_failure(self.errors, timeout_s)
        if isinstance(exc, anthropic.APIConnectionError):
            cause = exc.__cause__
            connect = type(cause).__name__ == "ConnectError"  # httpx: nothing was sent
            detail = (str(cause) if cause else "") or exc.message
            return connection_failure(self.errors, detail, connect=connect, refused=connection_refused(exc))
        return None

    def parse_response(self, message: Any) -> ModelResponse:
        """The SDK's reply object (direct or from a batch result) as a ModelResponse."""
        text: list[str] = []
        thinking: list[str] = []
        for block in message.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "thinking" and block.thinking:
                thinking.append(block.thinking)
        usage = message.usage
        written = getattr(usage, "cache_creation_input_tokens", None) or 0
        read = getattr(usage, "cache_read_input_tokens", None) or 0
        return ModelResponse(
            text="".join(text),
            # Anthropic's input_tokens are only those after the last cache breakpoint
            usage=Usage(usage.input_tokens + written + read, usage.output_tokens, read, written),
            model=message.model,
            thinking="\n\n".join(thinking) or None,
            stop_reason=message.stop_reason,
        )

    async def aclose(self) -> None:
        await self.client.close()


def cache_breakpoints(request: ModelRequest) -> list[int]:
    """Which messages of ``request`` get a cache breakpoint: the shared opening exchange's last, and the last.

    The opening exchange is the first two messages of every question and hint turn. A probe is sent on
    its own branch from the solved conversation, so the end of that conversation (the message before
    the probe) is shared by every probe of the problem and gets one too. Anthropic allows four
    breakpoints; a request here never has more than three.
    """
    last = len(request.messages) - 1
    if last < 0:
        return []
    opening_end = 1 if request.turn.kind != "opening" and last > 1 else None
    solved_end = last - 1 if request.turn.kind == "probe" and last - 1 > 1 else None
    return [i for i in (opening_end, solved_end, last) if i is not None]


def _claude_version(model_id: str) -> tuple[int, int] | None:
    """``claude-opus-4-5-20251101`` → (4, 5); ``claude-3-7-sonnet-…`` → (3, 7); None if unversioned."""
    numbers = [int(n) for n in re.findall(r"\d+", re.sub(r"-\d{8}$", "", model_id))]
    if not numbers:
        return None
    minor = numbers[1] if len(numbers) > 1 and numbers[1] < 100 else 0
    return numbers[0], minor


def uses_adaptive_thinking(model_id: str) -> bool:
    """True for Claude 4.6 and later, Mythos and Fable: a thinking token budget is rejected (4.7+) or deprecated (4.6)."""
    if any(family in model_id for family in ("mythos", "fable")):
        return True
    version = _claude_version(model_id)
    return version is not None and version >= (4, 6)


def thinking_config(model_id: str, budget_tokens: int, max_tokens: int) -> dict[str, Any]:
    """The ``thinking`` parameter for ``model_id``: a token budget, or adaptive where budgets are rejected."""
    if uses_adaptive_thinking(model_id):
        return {"type": "adaptive", "display": "summarized"}
    if budget_tokens >= max_tokens:
        raise ModelError(
            f"anthropic:{model_id}: thinking_budget ({budget_tokens}) must be less than max_tokens "
            f"({max_tokens}); raise --max-tokens or lower --thinking-budget"
        )
    return {"type": "enabled", "budget_tokens": budget_tokens}


def require_key(settings: ModelSettings) -> str:
    """The key in ``ANTHROPIC_API_KEY``; :class:`MissingKeyError` without one (the SDK is not imported)."""
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise MissingKeyError(
            f"no Anthropic API key: set {KEY_ENV}, "
            "or run offline with 'evalkit run' (replays the recorded transcript)"
        )
    return key


def preflight(name: str, settings: ModelSettings) -> None:
    """What can fail before a run loads anything: no key, or no server at a ``--base-url`` on this machine."""
    require_key(settings)
    probe_local_server(name, settings.base_url or os.environ.get(BASE_URL_ENV) or None)


def create(
    model_id: str, settings: ModelSettings, *, retry_policy: RetryPolicy | None = None
) -> AnthropicModel:
    """An Anthropic model; raises :class:`MissingKeyError` without ``ANTHROPIC_API_KEY``."""
    try:
        import anthropic
    except ImportError:
        raise ModelError("the anthropic SDK is not installed: pip install anthropic") from None
    key = require_key(settings)
    base_url = settings.base_url or os.environ.get(BASE_URL_ENV) or None
    client = anthropic.AsyncAnthropic(
        api_key=key, base_url=base_url, max_retries=0, timeout=settings.timeout_s
    )
    errors = ErrorContext(f"anthropic:{model_id}", model_id, KEY_ENV, base_url=base_url, secret=key)
    policy = retry_policy or RetryPolicy.for_settings(settings.max_retries)
    sdk_major = int(re.match(r"\d+", anthropic.__version__)[0])  # type: ignore[index]
    return AnthropicModel(
        model_id,
        client,
        settings=settings,
        retry_policy=policy,
        errors=errors,
        takes_temperature=sdk_major < 2,
    )
