"""The Model protocol and the data a model call exchanges.

A provider adapter implements one async method, ``generate``, which takes a
:class:`ModelRequest` (system prompt, message history, generation options and
the turn being asked) and returns a :class:`ModelResponse` (text, optional
thinking, token usage). Adapters are registered by provider name in
:mod:`evalkit.models.registry`.

Example::

    model = resolve_model("replay:cassettes/hw9.yaml")
    reply = await model.generate(ModelRequest(messages=(Message("user", "Hi"),),
                                              turn=Turn("opening")))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

__all__ = [
    "TRUNCATED_STOP_REASONS",
    "GenerationOptions",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "Turn",
    "Usage",
    "options_for",
]

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Turn:
    """Which turn of the tutoring conversation a request is (replay answers by it)."""

    kind: Literal["opening", "question", "hint", "probe"]
    problem: str | None = None
    hint: int = 0  # 1-based hint number for kind == "hint"
    probe: str | None = None  # kind == "probe": which one, as ``part:probe`` (``b:misconception``)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "problem": self.problem, "hint": self.hint}
        if self.probe is not None:
            out["probe"] = self.probe
        return out


class GenerationOptions(BaseModel):
    """Generation parameters shared by every provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int = Field(default=8192, gt=0)
    thinking_budget: int | None = Field(default=None, ge=1024, description="Claude extended thinking")
    timeout_s: float = Field(default=600.0, gt=0)
    seed: int | None = Field(default=None, ge=0, description="sampling seed (OpenAI-compatible servers)")

    @model_serializer(mode="wrap")
    def _without_unset_seed(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        # A seed that is not set is left out, so the options of runs (and cache keys) from before
        # the field existed read the same.
        data = handler(self)
        if isinstance(data, dict) and data.get("seed") is None:
            data.pop("seed", None)
        return data


@dataclass(frozen=True)
class ModelRequest:
    messages: tuple[Message, ...]
    turn: Turn
    system: str | None = None
    options: GenerationOptions = field(default_factory=GenerationOptions)
    sample: int = 0
    conv: str = ""  # which conversation of the run (journal key); not sent to providers


@dataclass(frozen=True)
class Usage:
    """Tokens of one call (or a sum of calls).

    ``input_tokens`` counts every input token; ``cache_read_tokens`` (served from the provider's
    prompt cache) and ``cache_write_tokens`` (written to it) are the parts of it priced at the
    provider's cache rates, so the uncached input is ``input_tokens - cache_read_tokens -
    cache_write_tokens``.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        return max(self.input_tokens - self.cache_read_tokens - self.cache_write_tokens, 0)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def to_json(self) -> dict[str, int]:
        """Input and output tokens, and the prompt-cache counts where there are any."""
        data = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        if self.cache_read_tokens:
            data["cache_read_tokens"] = self.cache_read_tokens
        if self.cache_write_tokens:
            data["cache_write_tokens"] = self.cache_write_tokens
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(
            int(data.get("input_tokens", 0)),
            int(data.get("output_tokens", 0)),
            int(data.get("cache_read_tokens", 0)),
            int(data.get("cache_write_tokens", 0)),
        )


# Stop reasons of a reply cut off by a length limit: OpenAI's (and compatible servers') finish_reason
# "length", Anthropic's "max_tokens", and Anthropic's "model_context_window_exceeded".
TRUNCATED_STOP_REASONS = frozenset({"length", "max_tokens", "model_context_window_exceeded"})


@dataclass(frozen=True)
class ModelResponse:
    text: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    thinking: str | None = None
    stop_reason: str | None = None  # as the provider said it: "end_turn", "max_tokens", "stop", "length"...

    @property
    def truncated(self) -> bool:
        """True when the reply stopped on a length limit (``--max-tokens`` or the context), not by itself."""
        return self.stop_reason in TRUNCATED_STOP_REASONS

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "usage": self.usage.to_json(),
            "model": self.model,
            "thinking": self.thinking,
            "stop_reason": self.stop_reason,
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelResponse:
        return cls(
            text=data["text"],
            usage=Usage.from_json(data.get("usage")),
            model=data.get("model", ""),
            thinking=data.get("thinking"),
            stop_reason=data.get("stop_reason"),
        )


def options_for(model: object, options: GenerationOptions) -> GenerationOptions:
    """``options`` with ``model``'s own defaults filled in (a local model: temperature 0 and a seed).

    A model may define ``default_options(options) -> options``; the run records and sends the result.
    """
    defaults = getattr(model, "default_options", None)
    return defaults(options) if callable(defaults) else options


@runtime_checkable
class Model(Protocol):
    """A chat model. ``name`` is the full ``provider:model`` spelling stored in runs."""

    name: str
    provider: str

    async def generate(self, request: ModelRequest) -> ModelResponse: ...

    async def aclose(self) -> None: ...
