"""Re-grade a stored run with the current checks, without creating a model client.

Each conversation is replayed from the run's journal through the same loop as
a live run. Where a new verdict would have sent a different hint (or none, or
one more), the conversation would have gone differently from that turn on:
the first such turn is reported, and the parts keep the verdict they had
reached by then.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit.conversation import ConversationResult, Opening, run_conversation, run_opening
from evalkit.models.base import GenerationOptions
from evalkit.models.journal import Diverged, JournalModel, stored_turns
from evalkit.probes import ProbeSetting
from evalkit.results import counting_opening, results_json, truncated_replies
from evalkit.spec.prompts import PromptSet
from evalkit.spec.suite import Suite
from evalkit.store import RunDir, conv_id, write_json_atomic

__all__ = ["Divergence", "RegradeResult", "regrade_run"]


@dataclass(frozen=True)
class Divergence:
    conv: str
    index: int  # position in the conversation of the first turn that would differ
    reason: str


@dataclass(frozen=True)
class RegradeResult:
    path: Path
    results: dict[str, Any]
    changes: list[dict[str, Any]]
    divergences: list[Divergence]


def _stored_length(events: list[dict[str, Any]], conv: str) -> int:
    return max(
        (e["index"] + 1 for e in events if e.get("type") == "message" and e.get("conv") == conv), default=0
    )


async def _regrade_async(
    rd: RunDir,
    suite: Suite,
    prompts: PromptSet,
    samples: int,
    options: GenerationOptions,
    probes: ProbeSetting,
) -> tuple[list[ConversationResult], list[Divergence]]:
    events = list(rd.journal())
    model = JournalModel(str(rd.config.get("model")), stored_turns(events))
    conversations: list[ConversationResult] = []
    divergences: list[Divergence] = []
    # conversations that outgrew the model's context in the run: their last hint has no reply
    outgrown = {str(e["conv"]): str(e.get("message", "")) for e in events if e.get("type") == "context_full"}
    for sample in range(samples):
        try:
            opening: Opening = await run_opening(
                model,
                prompts,
                list(suite.problems),
                options=options,
                sample=sample,
                conv=conv_id(sample, None),
            )
        except Diverged as err:
            divergences.append(Divergence(err.conv, err.index, "the opening prompt changed: " + err.reason))
            continue
        sample_conversations: list[ConversationResult] = []
        for number, lp in enumerate(suite.problems, 1):
            conv = conv_id(sample, lp.id)
            try:
                result = await run_conversation(
                    model, prompts, lp, number, opening, options=options, sample=sample, conv=conv,
                    probes=probes,
                )  # fmt: skip
            except Diverged as err:
                divergences.append(Divergence(conv, err.index, "the question prompt changed: " + err.reason))
                continue
            stored = _stored_length(events, conv)
            if result.stopped and conv in outgrown:  # it stopped there in the run too
                result = replace(result, stopped=outgrown[conv])
            elif result.stopped:
                index = len(result.messages)
                divergences.append(
                    Divergence(conv, index, f"a new verdict sends a hint never sent: {result.stopped}")
                )
            elif len(result.messages) < stored:
                divergences.append(
                    Divergence(
                        conv,
                        len(result.messages),
                        "the stored conversation sent a hint the new verdicts would not",
                    )
                )
            sample_conversations.append(result)
        # counted as the run counts it: the opening's call and tokens once per sample, on its first question
        conversations.extend(counting_opening(sample_conversations, opening.usage))
    return conversations, divergences


def _changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    before = {(p["problem"], p["part"], p.get("sample", 0)): p for p in (old or {}).get("parts", [])}
    out = []
    for p in new["parts"]:
        q = before.get((p["problem"], p["part"], p.get("sample", 0)))
        fields = ("status", "first_attempt_status", "attempts", "hints", "points")
        if q is None or any(q.get(f) != p.get(f) for f in fields):
            out.append(
                {
                    "problem": p["problem"],
                    "part": p["part"],
                    "sample": p.get("sample", 0),
                    "before": {f: q.get(f) for f in fields} if q else None,
                    "after": {f: p.get(f) for f in fields},
                }
            )
    # a probe's outcome is re-graded too (a probe the journal has no reply to is not run)
    probed = {
        (r["problem"], r["part"], r["probe"], r.get("sample", 0)): r for r in (old or {}).get("probes", [])
    }
    for r in new.get("probes", []):
        q = probed.get((r["problem"], r["part"], r["probe"], r.get("sample", 0)))
        if q is None or q.get("outcome") != r.get("outcome"):
            out.append(
                {
                    "problem": r["problem"],
                    "part": r["part"],
                    "probe": r["probe"],
                    "sample": r.get("sample", 0),
                    "before": {"outcome": q.get("outcome")} if q else None,
                    "after": {"outcome": r.get("outcome")},
                }
            )
    return out


def regrade_run(
    rd: RunDir,
    suite: Suite,
    prompts: PromptSet,
    samples: int,
    options: GenerationOptions,
    probes: ProbeSetting = "none",
) -> RegradeResult:
    """Re-grade ``rd`` (and the replies to the ``probes`` it sent); write ``results.regrade-<UTC>.json``
    beside ``results.json``."""
    conversations, divergences = asyncio.run(_regrade_async(rd, suite, prompts, samples, options, probes))
    truncated = truncated_replies(rd.journal())
    new = results_json(rd.path, str(rd.config.get("model")), suite.name, conversations, truncated=truncated)
    changes = _changes(rd.results, new)
    new["regrade"] = {
        "changes": changes,
        "divergences": [d.__dict__ for d in divergences],
        "content_hash_before": rd.config.get("content_hash"),
        "content_hash_now": suite.content_hash,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = rd.path / f"results.regrade-{stamp}.json"
    write_json_atomic(path, new)
    return RegradeResult(path, new, changes, divergences)
