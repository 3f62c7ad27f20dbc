"""A scripted model for tests and examples: replies come from a list or a function.

A reply may also be a whole :class:`~evalkit.models.base.ModelResponse` (to script a stop reason).

Example::

    model = ScriptedModel(["Hello!", "**Part (a)** 4"])
    model = ScriptedModel(lambda request: "42")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from evalkit.errors import ModelError
from evalkit.models.base import ModelRequest, ModelResponse, Usage

__all__ = ["ScriptedModel"]

Reply = str | ModelResponse | Callable[[ModelRequest], str]


class ScriptedModel:
    """Answers from a queue of replies (or a function of the request); records every request."""

    provider = "scripted"

    def __init__(
        self,
        replies: Sequence[str | ModelResponse] | Callable[[ModelRequest], str],
        name: str = "scripted:test",
    ) -> None:
        self.name = name
        self._replies: list[str | ModelResponse] | None = None if callable(replies) else list(replies)
        self._fn = replies if callable(replies) else None
        self.requests: list[ModelRequest] = []

    async def generate(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        if self._fn is not None:
            text = self._fn(request)
        elif self._replies:
            reply = self._replies.pop(0)
            if isinstance(reply, ModelResponse):  # a scripted stop reason, usage ...: returned as written
                return reply
            text = reply
        else:
            raise ModelError(f"{self.name}: no scripted reply left for request {len(self.requests)}")
        tokens_in = sum(len(m.content) for m in request.messages) // 4
        return ModelResponse(
            text, Usage(tokens_in, max(1, len(text) // 4)), self.name, stop_reason="end_turn"
        )

    async def aclose(self) -> None:
        return None
