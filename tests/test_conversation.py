"""The tutoring loop with a scripted model: first-try, hint-then-correct, exhausted ladder, partial reply."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evalkit.conversation import ConversationResult, run_conversation, run_opening
from evalkit.models.scripted import ScriptedModel
from evalkit.spec.prompts import load_prompts
from evalkit.spec.suite import load_suite

ROOT = Path(__file__).parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini"


@pytest.fixture(scope="module")
def suite():
    return load_suite(MINI / "problems", MINI / "rubrics")


@pytest.fixture(scope="module")
def prompts():
    return load_prompts(ROOT / "prompts")


def converse(suite, prompts, replies: list[str]) -> tuple[ConversationResult, ScriptedModel]:
    model = ScriptedModel(["Happy to help, one question at a time.", *replies])

    async def go() -> ConversationResult:
        opening = await run_opening(model, prompts, list(suite.problems))
        return await run_conversation(model, prompts, suite.problems[0], 1, opening)

    return asyncio.run(go()), model


def by_part(result: ConversationResult) -> dict:
    return {p.part: p for p in result.parts}


ALL_RIGHT = "**Part (a)** $\\boxed{4}$\n\n**Part (b)** 3 × 5 = 15\n\n**Part (c)** `Paris`"


def test_correct_first_time(suite, prompts) -> None:
    result, model = converse(suite, prompts, [ALL_RIGHT])
    parts = by_part(result)
    assert {p.status for p in parts.values()} == {"correct"}
    assert all(
        p.first_attempt_status == "correct" and p.attempts == 1 and p.hints == 0 for p in parts.values()
    )
    assert parts["b"].points == 2
    assert len(model.requests) == 2  # opening + question, no hints
    question = model.requests[1].messages[-1].content
    assert "What is 2 + 2?" in question and "Part (c)" in question


def test_wrong_then_hint_then_correct(suite, prompts) -> None:
    first = ALL_RIGHT.replace("\\boxed{4}", "\\boxed{5}")
    result, model = converse(suite, prompts, [first, "You're right, it's $\\boxed{4}$."])
    a = by_part(result)["a"]
    assert (a.status, a.first_attempt_status, a.attempts, a.became_correct_at, a.hints) == (
        "correct",
        "incorrect",
        2,
        2,
        1,
    )
    assert a.hint_texts == ("Count again: two plus two.",)
    assert a.points == 1
    # the hint is the only extra turn, and it carries the ladder's first hint verbatim
    assert len(model.requests) == 3
    assert model.requests[2].messages[-1].content == "Count again: two plus two."
    assert model.requests[2].turn.kind == "hint" and model.requests[2].turn.hint == 1
    # correct parts are not re-graded by the hint reply
    assert by_part(result)["b"].attempts == 1


def test_hints_exhausted(suite, prompts) -> None:
    first = ALL_RIGHT.replace("\\boxed{4}", "\\boxed{5}")
    result, model = converse(suite, prompts, [first, "Still $\\boxed{5}$.", "Definitely $\\boxed{6}$."])
    a = by_part(result)["a"]
    assert a.status == "incorrect" and a.attempts == 3 and a.hints == 2 and a.became_correct_at is None
    assert a.points == 0
    assert "expected 4" in a.explanation
    assert len(model.requests) == 4  # the ladder has two hints; no third


def test_reply_answering_only_some_parts(suite, prompts) -> None:
    partial = "**Part (a)** $\\boxed{4}$\n\n**Part (c)** `Paris`"
    result, model = converse(suite, prompts, [partial, "Part (b): 3 * 5 = $\\boxed{15}$"])
    parts = by_part(result)
    assert parts["b"].first_attempt_status == "unscored"
    assert parts["b"].status == "correct" and parts["b"].became_correct_at == 2
    assert model.requests[2].messages[-1].content == "Multiply carefully."
    assert parts["a"].attempts == 1 and parts["c"].attempts == 1


def test_two_parts_wrong_get_one_combined_hint(suite, prompts) -> None:
    both = "**Part (a)** $\\boxed{5}$\n\n**Part (b)** $\\boxed{16}$\n\n**Part (c)** `Paris`"
    result, model = converse(
        suite, prompts, [both, "**Part (a)** $\\boxed{4}$\n\n**Part (b)** $\\boxed{15}$"]
    )
    hint = model.requests[2].messages[-1].content
    assert "For part (a): Count again" in hint and "For part (b): Multiply carefully." in hint
    parts = by_part(result)
    assert parts["a"].status == parts["b"].status == "correct"
    assert parts["a"].hints == parts["b"].hints == 1


# --- unreadable and cut-off answers get asked again --------------------------------------------------


def test_an_unreadable_answer_is_asked_to_be_restated_before_any_hint(suite, prompts) -> None:
    unreadable = ALL_RIGHT.replace("$\\boxed{4}$", "about four-ish")
    result, model = converse(suite, prompts, [unreadable, "**Part (a)** $\\boxed{4}$"])
    a = by_part(result)["a"]
    assert a.first_attempt_status == "unscored" and a.status == "correct"
    assert a.hints == 0 and len(a.nudges) == 1  # a nudge is not a content hint
    assert "state it plainly" in model.requests[2].messages[-1].content
    assert "Count again" not in model.requests[2].messages[-1].content


def test_a_still_unreadable_answer_then_gets_the_ladder(suite, prompts) -> None:
    unreadable = ALL_RIGHT.replace("$\\boxed{4}$", "about four-ish")
    result, model = converse(
        suite, prompts, [unreadable, "**Part (a)** roughly four", "**Part (a)** $\\boxed{4}$"]
    )
    a = by_part(result)["a"]
    assert a.status == "correct" and a.hints == 1 and len(a.nudges) == 1
    assert model.requests[3].messages[-1].content == "Count again: two plus two."


def test_a_cut_off_part_is_graded_as_truncated_and_asked_to_finish(suite, prompts) -> None:
    from evalkit.models.base import ModelResponse, Usage

    cut = ModelResponse(
        "**Part (a)** $\\boxed{4}$\n\n**Part (b)** 3 × 5 = 1",
        Usage(10, 10),
        "scripted:test",
        stop_reason="length",
    )
    result, model = converse(suite, prompts, [cut, "**Part (b)** $\\boxed{15}$\n\n**Part (c)** `Paris`"])
    parts = by_part(result)
    assert parts["a"].first_attempt_status == "correct"  # a complete section before the cut is graded
    b = parts["b"]
    assert b.first_attempt_status == "unscored" and b.history[0].grade.reason == "truncated"
    assert b.status == "correct" and b.hints == 0
    assert parts["c"].history[0].grade.reason == "truncated"  # never reached
    assert "cut off" in model.requests[2].messages[-1].content
