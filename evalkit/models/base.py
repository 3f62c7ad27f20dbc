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

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "GenerationOptions",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "Turn",
    "Usage",
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

    kind: Literal["opening", "question", "hint"]
    problem: str | None = None
    hint: int = 0  # 1-based hint number for kind == "hint"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "problem": self.problem, "hint": self.hint}


class GenerationOptions(BaseModel):
    """Generation parameters shared by every provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int = Field(default=8192, gt=0)
    thinking_budget: int | None = Field(default=None, ge=1024, description="Claude extended thinking")
    timeout_s: float = Field(default=600.0, gt=0)


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
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    def to_json(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


@dataclass(frozen=True)
class ModelResponse:
    text: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    thinking: str | None = None
    stop_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "usage": self.usage.to_json(),
            "model": self.model,
            "thinking": self.thinking,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelResponse:
        usage = data.get("usage") or {}
        return cls(
            text=data["text"],
            usage=Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))),
            model=data.get("model", ""),
            thinking=data.get("thinking"),
            stop_reason=data.get("stop_reason"),
        )


@runtime_checkable
class Model(Protocol):
    """A chat model. ``name`` is the full ``provider:model`` spelling stored in runs."""

    name: str
    provider: str

    async def generate(self, request: ModelRequest) -> ModelResponse: ...

    async def aclose(self) -> None: ...
