"""Serve replies already stored in a run's journal: the basis of resume and re-grading.

``JournalModel`` answers a request from the journal when the same
conversation already has a reply at that position *and* the user message that
led to it is the same. A position with no stored reply goes to ``fallback``
(resume: the real model). A position whose stored reply answered a different
message is never asked again: re-grading raises :class:`Diverged` (the
conversation would have gone differently from here on), a resume stops with a
:class:`~evalkit.errors.StoreError` that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.errors import ReplayExhausted, StoreError
from evalkit.models.base import Model, ModelRequest, ModelResponse

__all__ = ["Diverged", "JournalModel", "StoredTurn", "stored_turns"]


class Diverged(ReplayExhausted):
    """A request differs from what the journal holds at that point of the conversation."""

    def __init__(self, conv: str, index: int, reason: str) -> None:
        self.conv, self.index, self.reason = conv, index, reason
        super().__init__(f"{conv} turn {index}: {reason}")


@dataclass(frozen=True)
class StoredTurn:
    user: str | None  # None: the journal has the reply but not the message it answered
    response: ModelResponse


def stored_turns(events: list[dict[str, Any]]) -> dict[tuple[str, int], StoredTurn]:
    """Map ``(conv, index of the user message)`` to the stored user message and reply (first of each)."""
    messages = [e for e in events if e.get("type") == "message"]
    users: dict[tuple[str, int], str] = {}
    for e in messages:  # every user message first: the order of the lines does not matter
        if e.get("role") == "user":
            users.setdefault((e["conv"], e["index"]), e["content"])
    turns: dict[tuple[str, int], StoredTurn] = {}
    for e in messages:
        if e.get("role") == "assistant" and "response" in e:
            user_key = (e["conv"], e["index"] - 1)
            if user_key not in turns:
                turns[user_key] = StoredTurn(users.get(user_key), ModelResponse.from_json(e["response"]))
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
        if stored is not None and self.fallback is not None:
            raise StoreError(
                f"{request.conv} turn {index}: the journal holds a reply to a different message than the "
                "one this resume would send (the prompts changed, or a verdict came out differently); "
                "a stored reply is never asked for again: re-grade with 'evalkit grade', or start a new run"
            )
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
