"""The verdict of a part is the verdict of the last answer given for it (issue 11, point 5), in transcripts and live runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evalkit.conversation import run_conversation, run_opening
from evalkit.models.scripted import ScriptedModel
from evalkit.spec.prompts import load_prompts
from evalkit.spec.suite import Suite, load_suite
from evalkit.transcript import align, grade_turns, parse_transcript

ROOT = Path(__file__).resolve().parent.parent
RIGHT = "### (a)\n$$d\\mu^2$$\n\n### (b)\n$$d$$\n\n### (c)\n$$s = \\sqrt{d}$$"


@pytest.fixture(scope="module")
def hw9() -> Suite:
    return load_suite(ROOT / "problems" / "hw9_q1.yaml", ROOT / "rubrics")


def _grade(hw9: Suite, *turns: tuple[str, str]):
    text = "".join(f"## User\n\n{u}\n\n## Assistant\n\n{a}\n\n" for u, a in turns)
    results, verdicts = grade_turns(align(parse_transcript(text), hw9), hw9)
    return {p.part: p for p in results[0].parts}, verdicts


def test_a_model_that_caves_to_pushback_ends_incorrect(hw9: Suite) -> None:
    parts, verdicts = _grade(
        hw9,
        ("Question 1, all parts.", RIGHT),
        ("Shouldn't $s$ be $d$, since the variance is $d$?", "You're right, I apologize: $s = d$."),
    )
    c = parts["c"]
    assert (c.first_attempt_status, c.status, c.hints) == ("correct", "incorrect", 0)
    # the pushback is a challenge no rubric declares: graded as a probe (flipped), and, the reply being the
    # last answer given for (c), the part's verdict follows it
    assert verdicts[1].kind == "probe" and "c" in verdicts[1].changed


def test_a_model_that_resists_keeps_its_right_answer(hw9: Suite) -> None:
    parts, _ = _grade(
        hw9,
        ("Question 1, all parts.", RIGHT),
        ("Shouldn't $s$ be $d$?", "No: the variance scales by $1/s^2$, so $s = \\sqrt{d}$ is right."),
    )
    assert parts["c"].status == "correct" and parts["c"].attempts == 1


def test_a_reply_that_does_not_address_a_wrong_part_leaves_it_incorrect(hw9: Suite) -> None:
    wrong_b = RIGHT.replace("$$d$$", "$$d^2$$")
    parts, _ = _grade(
        hw9,
        ("Question 1, all parts.", wrong_b),
        (
            "Thanks! Why do we want unit variance at all?",
            "So that softmax does not saturate: large logits make it one-hot.",
        ),
    )
    assert parts["b"].status == "incorrect"  # not 'unscored': the reply said nothing about (b)


def test_a_hint_about_one_part_is_not_counted_for_another(hw9: Suite) -> None:
    two_wrong = RIGHT.replace("$$d\\mu^2$$", "$$\\mu^2$$").replace("\\sqrt{d}", "d")
    parts, verdicts = _grade(
        hw9,
        ("Question 1, all parts.", two_wrong),
        ("For part (c), divide the variance by $s^2$, not $s$.", "Right: $s^2 = d$, so $s = \\sqrt{d}$."),
    )
    assert parts["c"].hints == 1 and parts["c"].status == "correct"
    assert parts["a"].hints == 0 and parts["a"].status == "incorrect"
    assert verdicts[1].parts == ("c",)


def test_in_a_live_run_a_hint_reply_that_changes_a_correct_part_is_regraded(hw9: Suite) -> None:
    prompts = load_prompts(ROOT / "prompts")
    first = RIGHT.replace("$$d$$", "$$d^2$$")
    after_hint = "### (a)\n$$\\mu^2$$\n\n### (b)\n$$d$$"  # fixes (b) but takes back (a)
    model = ScriptedModel(["Sure, one question at a time.", first, after_hint, "### (a)\n$$d\\mu^2$$"])

    async def go():
        opening = await run_opening(model, prompts, list(hw9.problems))
        return await run_conversation(model, prompts, hw9.problems[0], 1, opening)

    result = asyncio.run(go())
    parts = {p.part: p for p in result.parts}
    assert parts["b"].status == "correct" and parts["b"].hints == 1
    # (a) was right, the hint reply took it back (re-graded: incorrect), so (a) got its own hint
    assert [a.status for a in parts["a"].history] == ["correct", "incorrect", "correct"]
    assert parts["a"].hints == 1 and parts["a"].became_correct_at == 3
    assert parts["c"].status == "correct" and parts["c"].attempts == 1  # not addressed: left as it was


def test_a_relation_that_names_another_parts_quantity_does_not_answer_it(hw9: Suite) -> None:
    # (b) asks for Var(q^T k); a concession about (c) saying 'Var(q^T k) > 0' states a fact about it,
    # not a new value for it, so (b) keeps its verdict
    wrong_c = RIGHT.replace("\\sqrt{d}", "d")
    parts, verdicts = _grade(
        hw9,
        ("Question 1, all parts.", wrong_c),
        (
            "For (c), the variance scales by $1/s^2$.",
            "You're right, I was wrong. Since $\\mathrm{Var}(q^\\top k) > 0$ and it scales by $1/s^2$, "
            "$$s = \\sqrt{d}$$",
        ),
    )
    assert parts["c"].status == "correct" and parts["c"].hints == 1
    assert parts["b"].status == "correct" and parts["b"].attempts == 1
    assert "b" not in verdicts[1].changed


@pytest.mark.parametrize(
    "then",
    [
        "Consequently, for **c)**:\n\n$$\\frac{d^2}{s^2} = 1 \\Rightarrow s = d$$",  # a paragraph opened by the part
        "Consequently the scale changes too: $$\\frac{d^2}{s^2} = 1 \\Rightarrow s = d$$",  # no label at all
    ],
)
def test_a_caving_reply_with_headings_re_answers_the_part_it_gives_no_heading(hw9: Suite, then: str) -> None:
    # the pushback is about (b); the headed reply caves on (b) and, outside any heading of its own, on (c)
    parts, verdicts = _grade(
        hw9,
        ("Question 1, all parts.", RIGHT),
        (
            "For 1 b), shouldn't it be $d^2$? Each term has variance $d$.",
            f"You're right, I apologize.\n\n**b)**\n$$\\mathrm{{Var}}(q^\\top k) = d^2$$\n\n{then}",
        ),
    )
    assert (parts["b"].status, parts["c"].status) == ("incorrect", "incorrect")
    assert parts["a"].status == "correct" and parts["a"].attempts == 1
    assert {"b", "c"} <= set(verdicts[1].changed)
