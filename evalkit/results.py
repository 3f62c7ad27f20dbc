"""The ``results.json`` / ``--json`` shape of a run, shared by runs (:mod:`evalkit.api`) and re-grading.

It reads conversations through :class:`Conversation`, the fields a results file shows, so the
shape of a file does not depend on how a conversation is held (the tutoring loop, a regrade).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from evalkit.measures import measures
from evalkit.models.base import TRUNCATED_STOP_REASONS, Usage
from evalkit.pricing import cost_usd
from evalkit.store import conv_id

__all__ = ["Conversation", "JudgeSpend", "counting_opening", "results_json", "truncated_replies"]


class _Part(Protocol):
    @property
    def points(self) -> float: ...
    @property
    def max_points(self) -> float: ...
    def to_json(self) -> dict[str, Any]: ...


class _Probe(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class Conversation(Protocol):
    """What a results file shows of one conversation (:class:`~evalkit.conversation.ConversationResult`)."""

    @property
    def problem(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def sample(self) -> int: ...
    @property
    def parts(self) -> Sequence[_Part]: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def model_calls(self) -> int: ...
    @property
    def stopped(self) -> str | None: ...
    @property
    def probes(self) -> Sequence[_Probe]: ...


C = TypeVar("C", bound=Conversation)


def counting_opening(conversations: list[C], opening: Usage) -> list[C]:
    """``conversations`` of one sample with the opening exchange's one call and tokens on the first.

    Every conversation of a sample continues the same opening; a run and a regrade count it once,
    so their totals are the tokens the run was sent and sent back.
    """
    if not conversations:
        return conversations
    first = conversations[0]
    counted = replace(first, usage=first.usage + opening, model_calls=first.model_calls + 1)  # type: ignore[type-var]
    return [counted, *conversations[1:]]


@dataclass(frozen=True)
class JudgeSpend:
    """What the judge model (``--judge``) cost a run: its calls, tokens and dollars."""

    model: str
    calls: int
    usage: Usage
    cost_usd: float

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "calls": self.calls,
            **self.usage.to_json(),
            "cost_usd": round(self.cost_usd, 6),
        }


def truncated_replies(events: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many replies of each conversation (``conv`` id) stopped on a length limit, from journal events."""
    counts: dict[str, int] = {}
    for e in events:
        if e.get("type") == "message" and e.get("role") == "assistant":
            response = e.get("response") or {}
            if response.get("truncated") or response.get("stop_reason") in TRUNCATED_STOP_REASONS:
                counts[str(e.get("conv"))] = counts.get(str(e.get("conv")), 0) + 1
    return counts


def results_json(
    run_dir: Path,
    model: str,
    suite: str,
    conversations: Sequence[Conversation],
    *,
    batch: bool = False,
    truncated: Mapping[str, int] | None = None,
    judge: JudgeSpend | None = None,
) -> dict[str, Any]:
    """The ``results.json`` / ``--json`` shape.

    ``truncated`` (from :func:`truncated_replies`) marks each question with the number of its
    replies that were cut off at ``--max-tokens`` or the context (``truncated_replies``).
    ``judge`` (a run with ``--judge``) is shown in the totals as ``judge`` and its dollars are
    counted in ``cost_usd``; the token totals are the tutored model's.
    """
    truncated = truncated or {}
    questions: list[dict[str, Any]] = []
    conversations = sorted(conversations, key=lambda c: c.sample)
    for conv in conversations:
        questions.append(
            {
                "problem": conv.problem,
                "title": conv.title,
                "sample": conv.sample,
                "points": sum(p.points for p in conv.parts),
                "max_points": sum(p.max_points for p in conv.parts),
                "usage": conv.usage.to_json(),
                "cost_usd": round(cost_usd(model, conv.usage, batch=batch), 6),
                "model_calls": conv.model_calls,
                "stopped": conv.stopped,
                "truncated_replies": truncated.get(conv_id(conv.sample, conv.problem), 0),
            }
        )
    parts = [p.to_json() for c in conversations for p in c.parts]
    probes = [p.to_json() for c in conversations for p in c.probes]
    usage = sum((c.usage for c in conversations), Usage())
    cost = sum(float(q["cost_usd"]) for q in questions) + (judge.cost_usd if judge is not None else 0.0)
    return {
        "run_dir": str(run_dir),
        "model": model,
        "suite": suite,
        "questions": questions,
        "parts": parts,
        "probes": probes,
        "measures": measures(parts, probes),
        "totals": {
            "parts": len(parts),
            "correct": sum(1 for p in parts if p["status"] == "correct"),
            "first_try": sum(1 for p in parts if p["first_attempt_status"] == "correct"),
            "hints": sum(p["hints"] for p in parts),
            "points": sum(p["points"] for p in parts),
            "max_points": sum(p["max_points"] for p in parts),
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "truncated_replies": sum(truncated.values()),  # the openings' too
            "cost_usd": round(cost, 6),
            **({"judge": judge.to_json()} if judge is not None else {}),
        },
    }
