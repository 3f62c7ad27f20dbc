"""Serve replies already stored in a run's journal: the basis of resume and re-grading.

``JournalModel`` answers a request from the journal when the same
conversation already has a reply at that position *and* the user message that
led to it is the same. Otherwise it asks ``fallback`` (resume: the real
model) or raises :class:`Diverged` (re-grading: the conversation would have
gone differently from here on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.errors import ReplayExhausted
from evalkit.models.base import Model, ModelRequest, ModelResponse

__all__ = ["Diverged", "JournalModel", "StoredTurn", "stored_turns"]


class Diverged(ReplayExhausted):
    """A request differs from what the journal holds at that point of the conversation."""

    def __init__(self, conv: str, index: int, reason: str) -> None:
        self.conv, self.index, self.reason = conv, index, reason
        super().__init__(f"{conv} turn {index}: {reason}")


@dataclass(frozen=True)
class StoredTurn:
    user: str
    response: ModelResponse


def stored_turns(events: list[dict[str, Any]]) -> dict[tuple[str, int], StoredTurn]:
    """Map ``(conv, index of the user message)`` to the stored user message and reply."""
    users: dict[tuple[str, int], str] = {}
    turns: dict[tuple[str, int], StoredTurn] = {}
    for e in events:
        if e.get("type") != "message":
            continue
        key = (e["conv"], e["index"])
        if e["role"] == "user":
            users.setdefault(key, e["content"])
        elif e["role"] == "assistant" and "response" in e:
            user_key = (e["conv"], e["index"] - 1)
            if user_key in users and user_key not in turns:
                turns[user_key] = StoredTurn(users[user_key], ModelResponse.from_json(e["response"]))
    return turns


class JournalModel:
    """Replies from the journal first; then the fallback model, or ``Diverged``."""

    def __init__(
        self, name: str, turns: dict[tuple[str, int], StoredTurn], fallback: Model | None = None
    ) -> None:
        self.name = name
        self.provider = fallback.provider if fallback is not None else "journal"
        self.turns = turns
        self.fallback = fallback
        self.served = 0
        self.forwarded = 0

    async def generate(self, request: ModelRequest) -> ModelResponse:
        index = len(request.messages) - 1
        stored = self.turns.get((request.conv, index))
        if stored is not None and stored.user == request.messages[-1].content:
            self.served += 1
            return stored.response
        if self.fallback is None:
            reason = (
                "no stored reply" if stored is None else "the message sent would differ from the stored one"
            )
            raise Diverged(request.conv, index, reason)
        self.forwarded += 1
        return await self.fallback.generate(request)

    async def aclose(self) -> None:
        if self.fallback is not None:
            await self.fallback.aclose()
