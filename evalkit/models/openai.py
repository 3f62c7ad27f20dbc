"""GPT models and OpenAI-compatible servers through Chat Completions (``openai:gpt-5.5``).

The key comes from ``OPENAI_API_KEY``; the base URL from the settings or
``OPENAI_BASE_URL``. A base URL that is not OpenAI's marks an OpenAI-compatible
server (vLLM, llama.cpp, Ollama): it may run without a key (a placeholder is sent),
gets ``max_tokens`` instead of ``max_completion_tokens`` (which older servers do
not know), and a ``reasoning_content`` / ``reasoning`` field in its reply is kept
as thinking. The SDK client never retries on its own: :mod:`evalkit.models.retry` does.

Prompt caching is automatic on OpenAI (and on llama.cpp's server): nothing is sent for it, and
the reply's ``usage.prompt_tokens_details`` says how many input tokens were read from the cache
(``cached_tokens``) and written to it (``cache_write_tokens``, GPT-5.6 and later); both are kept
in :class:`Usage` and priced at the cache rates (:mod:`evalkit.pricing`).

Example::

    model = create("qwen3-8b", ModelSettings(base_url="http://localhost:8000/v1"))
    reply = await model.generate(ModelRequest(messages=(Message("user", "2+2?"),), turn=Turn("opening")))
    await model.aclose()
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
    import openai

__all__ = [
    "KEY_ENV",
    "PLACEHOLDER_KEY",
    "OpenAIModel",
    "create",
    "is_compatible_server",
    "preflight",
    "require_key",
]

KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
PLACEHOLDER_KEY = "not-needed"  # sent to compatible servers that take no key

log = logging.getLogger("evalkit.models")


class OpenAIModel:
    """A chat model behind an ``openai.AsyncOpenAI`` client that does not retry by itself."""

    provider = "openai"

    def __init__(
        self,
        model_id: str,
        client: openai.AsyncOpenAI,
        *,
        settings: ModelSettings,
        retry_policy: RetryPolicy,
        errors: ErrorContext,
        compatible_server: bool = False,
    ) -> None:
        self.name = f"openai:{model_id}"
        self.model_id = model_id
        self.settings = settings
        self.retry_policy = retry_policy
        self.compatible_server = compatible_server
        self.client = client
        self.errors = errors

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        """The Chat Completions parameters for ``request`` (system message, full history, options)."""
        options = request.options
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.extend({"role": m.role, "content": m.content} for m in request.messages)
        params: dict[str, Any] = {"model": self.model_id, "messages": messages}
        # OpenAI's reasoning models reject max_tokens; older compatible servers know only max_tokens.
        params["max_tokens" if self.compatible_server else "max_completion_tokens"] = options.max_tokens
        if options.temperature is not None:
            params["temperature"] = options.temperature
        if options.seed is not None:
            params["seed"] = options.seed
        if options.thinking_budget is not None:
            log.info("%s: thinking_budget is a Claude option; not sent", self.name)
        return params

    async def generate(self, request: ModelRequest) -> ModelResponse:
        params = self.request_params(request)
        timeout_s = min(self.settings.timeout_s, request.options.timeout_s)
        completion = await call_with_retries(
            lambda: self._create(params, timeout_s),
            self.retry_policy,
            lambda exc: self.classify(exc, timeout_s),
        )
        return self.parse_response(completion)

    async def _create(self, params: dict[str, Any], timeout_s: float) -> Any:
        """``chat.completions.create`` without the parameter transform it runs on every call (pure CPU).

        ``params`` is already the JSON body (plain strings and numbers, no aliased fields), so it
        goes out through the client's documented low-level ``post``, with the auth ``create`` uses.
        """
        from openai.types.chat import ChatCompletion

        return await self.client.post(
            "/chat/completions",
            cast_to=ChatCompletion,
            body=params,
            options={"timeout": timeout_s, "security": {"bearer_auth": True}},
        )

    def classify(self, exc: Exception, timeout_s: float) -> Failure | None:
        """An SDK exception as a retry decision (also used by the batch client); None if not an API error."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            return status_failure(self.errors, exc.status_code, exc.response.headers, exc.body)
        if isinstance(exc, openai.APITimeoutError):
            return timeout_failure(self.errors, timeout_s)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            connect = type(cause).__name__ == "ConnectError"  # httpx: nothing was sent
            detail = (str(cause) if cause else "") or exc.message
            return connection_failure(self.errors, detail, connect=connect, refused=connection_refused(exc))
        return None

    def parse_response(self, completion: Any) -> ModelResponse:
        """The SDK's reply object (direct or from a batch result) as a ModelResponse."""
        if not completion.choices:
            raise ModelError(f"{self.name}: the reply has no choices")
        choice = completion.choices[0]
        message = choice.message
        extra = message.model_extra or {}
        thinking = extra.get("reasoning_content") or extra.get("reasoning")
        return ModelResponse(
            text=message.content or "",
            usage=_usage(completion.usage),
            model=completion.model or self.model_id,
            thinking=thinking if isinstance(thinking, str) and thinking else None,
            stop_reason=choice.finish_reason,
        )

    async def aclose(self) -> None:
        await self.client.close()


def _usage(usage: Any) -> Usage:
    """Chat Completions usage; ``prompt_tokens`` includes the cached and cache-written tokens."""
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    read = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    written = (getattr(details, "cache_write_tokens", None) or 0) if details is not None else 0
    return Usage(usage.prompt_tokens, usage.completion_tokens, read, written)


def is_compatible_server(base_url: str | None) -> bool:
    """True when ``base_url`` points somewhere other than OpenAI's own API."""
    if not base_url:
        return False
    host = (urlsplit(base_url).hostname or "").lower()
    return not (host == "openai.com" or host.endswith(".openai.com"))


def require_key(settings: ModelSettings) -> str:
    """The key in ``OPENAI_API_KEY`` (a placeholder for a compatible server that takes none);
    :class:`MissingKeyError` for OpenAI's own API without one. The SDK is not imported."""
    key = os.environ.get(KEY_ENV, "").strip()
    if key:
        return key
    if not is_compatible_server(settings.base_url or os.environ.get(BASE_URL_ENV) or None):
        raise MissingKeyError(
            f"no OpenAI API key: set {KEY_ENV}, run offline with 'evalkit run' (replays the recorded "
            "transcript), or use an OpenAI-compatible server (vLLM, llama.cpp, Ollama) with --base-url"
        )
    return PLACEHOLDER_KEY


def preflight(name: str, settings: ModelSettings) -> None:
    """What can fail before a run loads anything: no key, or no server at a ``--base-url`` on this machine."""
    require_key(settings)
    probe_local_server(name, settings.base_url or os.environ.get(BASE_URL_ENV) or None)


def create(model_id: str, settings: ModelSettings, *, retry_policy: RetryPolicy | None = None) -> OpenAIModel:
    """An OpenAI (or OpenAI-compatible) model; raises :class:`MissingKeyError` without a key for OpenAI."""
    try:
        import openai
    except ImportError:
        raise ModelError("the openai SDK is not installed: pip install openai") from None
    base_url = settings.base_url or os.environ.get(BASE_URL_ENV) or None
    compatible = is_compatible_server(base_url)
    key = require_key(settings)
    client = openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0, timeout=settings.timeout_s)
    errors = ErrorContext(f"openai:{model_id}", model_id, KEY_ENV, base_url=base_url, secret=key)
    policy = retry_policy or RetryPolicy.for_settings(settings.max_retries)
    return OpenAIModel(
        model_id, client, settings=settings, retry_policy=policy, errors=errors, compatible_server=compatible
    )
