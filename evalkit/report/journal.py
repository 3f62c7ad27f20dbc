"""A run's journal read back as conversations: messages by index, and what was graded and hinted on each turn.

Checks are journaled after the reply they grade, so each check belongs to the
latest assistant message of its conversation; hint events are matched to the
user message of the same hint number. Later events for the same message or
part (a resumed run) replace earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evalkit.report.notes import OPENING
from evalkit.store import RunDir

__all__ = ["Conversation", "Journal", "conversation_for", "read_journal"]


@dataclass
class Conversation:
    """One conversation of a run (conv id ``opening``, ``s0/q3`` ...)."""

    problem: str | None = None
    prefix: int = 0
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    checks: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by assistant message index
    hints: dict[int, dict[str, Any]] = field(default_factory=dict)  # by hint number
    part_results: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    last_assistant: int = -1


@dataclass
class Journal:
    """All conversations of a run, and whether it started and finished."""

    conversations: dict[str, Conversation] = field(default_factory=dict)
    started: float | None = None
    finished: bool = False


def read_journal(run: RunDir) -> Journal:
    """The conversations in ``run``'s journal, in the order their events were written."""
    journal = Journal()
    for event in run.journal():
        kind = event.get("type")
        conv_id = event.get("conv")
        conv = journal.conversations.setdefault(conv_id, Conversation()) if conv_id else None
        if kind == "run_start":
            journal.started = event.get("ts")
        elif kind == "run_end":
            journal.finished = event.get("status") == "complete"
        elif kind == "conversation_start" and conv is not None:
            conv.problem, conv.prefix = event.get("problem"), int(event.get("prefix", 0))
        elif kind == "message" and conv is not None:
            index = int(event.get("index", len(conv.messages)))
            conv.messages[index] = event
            if event.get("role") == "assistant":
                conv.last_assistant = index
            if conv.problem is None:
                conv.problem = (event.get("turn") or {}).get("problem")
        elif kind == "check" and conv is not None:
            key = (event.get("part"), event.get("attempt"))
            for checks in conv.checks.values():
                checks[:] = [c for c in checks if (c.get("part"), c.get("attempt")) != key]
            conv.checks.setdefault(conv.last_assistant, []).append(event)
        elif kind == "hint" and conv is not None:
            conv.hints[int(event.get("number", 0))] = event
        elif kind == "part_result" and conv is not None:
            conv.part_results = [p for p in conv.part_results if p.get("part") != event.get("part")]
            conv.part_results.append(event)
        elif kind == "conversation_end" and conv is not None:
            conv.usage = event.get("usage") or {}
    return journal


def conversation_for(journal: Journal, problem_id: str, sample: int) -> Conversation | None:
    """The conversation about ``problem_id`` in sample ``sample``, if the run has one."""
    preferred = f"s{sample}/{problem_id}"
    if preferred in journal.conversations:
        return journal.conversations[preferred]
    if sample == 0:  # runs written by other tools (transcripts) may name conversations differently
        for conv_id, conv in journal.conversations.items():
            if conv.problem == problem_id and not conv_id.endswith(OPENING):
                return conv
    return None
