"""Which problem each turn of a transcript is about: numbers, titles, topics, several at once, and replies that fit none."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import TranscriptError
from evalkit.spec.suite import Suite
from evalkit.transcript import align, grade_transcript, parse_transcript
from tests.helpers import markdown_transcript

ROOT = Path(__file__).resolve().parent.parent
Q1_REPLY = (
    "### (a)\n$$\\mathbb{E}[q^\\top k] = d\\mu^2$$ by linearity of expectation over the components.\n\n"
    "### (b)\nThe variances of the independent products add: $$\\mathrm{Var}(q^\\top k) = d$$\n\n"
    "### (c)\nDividing by the standard deviation keeps the logits at unit variance: $$s = \\sqrt{d}$$"
)
Q2_REPLY = (
    "### (a)\nThe scores are $[3, 11, 5, 2]$; argmax picks $k_2$, so the output is $v_2 = [1, 4, 3]^\\top$.\n\n"
    "### (b)\nArgmax is piecewise constant, so its gradient with respect to the scores is zero almost everywhere: "
    "no gradient reaches the queries or keys and the model cannot learn where to attend. Softmax is a smooth relaxation."
)
LAYER_NORM = (
    "### (a)\nLayerNorm normalizes each token over its features: subtract the mean, divide by the standard deviation "
    "plus epsilon, then scale by gamma and shift by beta. Unlike BatchNorm it needs no batch statistics, so training "
    "and inference behave the same.\n\n### (b)\nIt has $2d$ learnable parameters: the gain gamma and the bias beta, "
    "each of dimension d; RMSNorm keeps only the gain and skips the centering step, which saves a reduction."
)

Q1_Q2_RIGHT = {"q1.a": "correct", "q1.b": "correct", "q1.c": "correct", "q2.a": "correct", "q2.b": "correct"}


@pytest.mark.parametrize(
    ("user", "problem"),
    [
        ("Let's do the kernelized linear attention problem.", "q6"),
        ("Now the argmax one, please.", "q2"),
        ("Can you walk me through the multi-head attention implementation?", "q3"),
        ("Question 4 next.", "q4"),
        ("q1 please", "q1"),
    ],
)
def test_a_question_named_by_number_title_or_topic(hw9: Suite, user: str, problem: str) -> None:
    text = markdown_transcript(
        ("Hi! Help me with my homework, one question at a time.", "Sure."), (user, "Here we go.")
    )
    aligned = align(parse_transcript(text), hw9)
    assert list(aligned.problems) == [problem]


def test_several_questions_in_one_turn_split_by_their_headings(hw9: Suite) -> None:
    reply = f"## Question 1\n\n{Q1_REPLY}\n\n## Question 2\n\n{Q2_REPLY}"
    aligned = align(parse_transcript(markdown_transcript(("Let's do questions 1 and 2.", reply))), hw9)
    assert list(aligned.problems) == ["q1", "q2"]
    assert "argmax" not in aligned.problems["q1"][0].assistant
    assert "\\sqrt{d}" not in aligned.problems["q2"][0].assistant


def test_a_follow_up_naming_a_question_part_goes_to_that_question(hw9: Suite) -> None:
    reply = f"## Question 1\n\n{Q1_REPLY}\n\n## Question 2\n\n{Q2_REPLY}"
    text = markdown_transcript(
        ("questions 1 and 2 please", reply), ("For 2(a), which key wins?", "The second key, $k_2$.")
    )
    aligned = align(parse_transcript(text), hw9)
    assert len(aligned.problems["q2"]) == 2 and len(aligned.problems["q1"]) == 1


def test_a_reply_about_something_else_is_not_graded_against_the_named_question(hw9: Suite, tmp_path) -> None:
    path = tmp_path / "layernorm.md"
    path.write_text(
        markdown_transcript(
            ("Question 2: layer normalization. (a) What does it do? (b) How many parameters?", LAYER_NORM)
        )
    )
    with pytest.raises(TranscriptError) as err:
        grade_transcript(
            path, problems=ROOT / "problems" / "hw9_*.yaml", rubrics=ROOT / "rubrics", runs_dir=tmp_path
        )
    message = str(err.value)
    assert "do not match the problem set" in message and "q2" in message and "\n" not in message


def test_the_questions_that_fit_are_graded_and_the_one_that_does_not_is_named(hw9: Suite, tmp_path) -> None:
    path = tmp_path / "mixed.md"
    path.write_text(
        markdown_transcript(
            ("Question 1 please.", Q1_REPLY), ("Question 2: layer normalization.", LAYER_NORM)
        )
    )
    said: list[str] = []
    result = grade_transcript(
        path,
        problems=ROOT / "problems" / "hw9_*.yaml",
        rubrics=ROOT / "rubrics",
        runs_dir=tmp_path,
        progress=said.append,
    )
    assert {p.problem for p in result.parts} == {"q1"}
    assert all(p.status == "correct" for p in result.parts)
    assert any(line.startswith("not graded: the reply does not fit q2") for line in said)


def test_an_unrelated_side_question_is_skipped(hw9: Suite) -> None:
    text = markdown_transcript(
        ("Question 2 please.", Q2_REPLY),
        (
            "Unrelated to the homework, but why does BatchNorm need running averages?",
            "Because at inference ...",
        ),
    )
    aligned = align(parse_transcript(text), hw9)
    assert len(aligned.problems["q2"]) == 1
    assert any("unrelated" in why for _, why in aligned.skipped)


def _by_part(hw9: Suite, reply: str, user: str = "Questions 1 and 2, please.") -> dict[str, str]:
    from evalkit.transcript import grade_turns

    results, _ = grade_turns(align(parse_transcript(markdown_transcript((user, reply))), hw9), hw9)
    return {f"{r.problem}.{p.part}": p.status for r in results for p in r.parts}


@pytest.mark.parametrize("summary_q2a", ["[1, 4, 3]", "[0, 1, 0, 0]"])
def test_a_closing_summary_of_several_questions_restates_each_part(hw9: Suite, summary_q2a: str) -> None:
    # 'Question 2 Part (a)' headings, and one summary listing every question's parts: its Q2(a) row is
    # the reply's second statement of 2(a), so a different one there makes the part incorrect
    reply = (
        "**Question 1 Part (a)**\n\nBy linearity, E[q^T k] = d*mu**2\n\n"
        "**Question 1 Part (b)**\n\nThe d products are independent with variance 1: Var(q^T k) = d\n\n"
        "**Question 1 Part (c)**\n\nWe need Var(q^T k)/s**2 = 1, so s = sqrt(d)\n\n"
        "**Question 2 Part (a)**\n\nThe scores are [3, 11, 5, 2], so argmax picks k_2 and the output is [1, 4, 3].\n\n"
        "**Question 2 Part (b)**\n\nArgmax is piecewise constant: its gradient is zero almost everywhere, so no "
        "gradient reaches the queries or keys and they cannot be trained. Softmax is a smooth relaxation.\n\n"
        "**Summary**\n\n- Q1(a): d*mu**2\n- Q1(b): d\n- Q1(c): s = sqrt(d)\n"
        f"- Q2(a): {summary_q2a}\n- Q2(b): argmax has zero gradient, so queries and keys get no gradient\n"
    )
    got = _by_part(hw9, reply)
    expected = "correct" if summary_q2a == "[1, 4, 3]" else "incorrect"
    assert got == {
        "q1.a": "correct",
        "q1.b": "correct",
        "q1.c": "correct",
        "q2.a": expected,
        "q2.b": "correct",
    }


def test_a_reply_in_html_is_split_by_the_question_headings_it_shows(hw9: Suite) -> None:
    reply = (
        "<b>Question 1: scaled dot-product attention</b><br><br>"
        "<b>Part 1:</b> E[q<sup>T</sup>k] = d&mu;<sup>2</sup><br><br>"
        "<b>Part 2:</b> Var(q<sup>T</sup>k) = d<br><br>"
        "<b>Part 3:</b> s = d<sup>1/2</sup><br><br>"
        "<b>Question 2: argmax attention</b><br><br>"
        "<b>(a)</b> The output is [1, 4, 3]<sup>T</sup>.<br><br>"
        "<b>(b)</b> Argmax has zero gradient almost everywhere, so no gradient reaches the queries or keys."
    )
    got = _by_part(hw9, reply)
    assert got == Q1_Q2_RIGHT


def test_capital_letter_summary_entries_of_another_question_are_not_this_ones(hw9: Suite) -> None:
    # 'A: h × d × q' in a summary of Q1 and Q4 is Q4's blank A, not Q1's part (a)
    reply = (
        "### Question 1\n\n#### Part (a)\n\n$$\\mathbb{E}[q^\\top k] = d\\mu^2$$\n\n#### Part (b)\n\n$$\\mathrm{Var}(q^\\top k) = d$$\n\n"
        "#### Part (c)\n\n$$s = \\sqrt{d}$$\n\n### Question 4\n\n#### Blank A\n\n$$W_q \\in \\mathbb{R}^{h \\times d \\times q}$$\n\n"
        "#### Blank B\n\n$$W_k \\in \\mathbb{R}^{d \\times k}$$\n\n"
        '#### Blanks C, D, E\n\n```python\nq = torch.einsum("bd,hdq->bhq", x, W_q)  # C\n'
        'k = torch.einsum("bd,dk->bk", x, W_k)  # D\nv = torch.einsum("bd,dv->bv", x, W_v)  # E\n```\n\n'
        "### Summary\n\n- $d\\mu^2$, $d$, $\\sqrt{d}$.\n- A: $h \\times d \\times q$, B: $d \\times k$; the einsums are above.\n"
    )
    got = _by_part(hw9, reply, "Questions 1 and 4, please.")
    assert {k: v for k, v in got.items() if k.startswith("q1")} == {
        "q1.a": "correct",
        "q1.b": "correct",
        "q1.c": "correct",
    }
    assert [got[f"q4.{p}"] for p in "abcde"] == ["correct"] * 5


def test_a_prose_reply_is_split_at_the_paragraphs_that_open_a_question(hw9: Suite) -> None:
    reply = (
        "Starting with question 1, linearity gives $\\mathbb{E}[q^\\top k] = d\\mu^2$.\n\n"
        "For part (b), the variances of the $d$ independent products add: $\\mathrm{Var}(q^\\top k) = d$.\n\n"
        "Part (c) follows: dividing by $s$ scales the variance by $1/s^2$, so $s = \\sqrt{d}$.\n\n"
        "Moving on to question 2. For part (a), the argmax picks $k_2$, so the output is $v_2 = [1, 4, 3]^\\top$.\n\n"
        "For part (b), argmax has zero gradient almost everywhere, so no gradient reaches the queries or keys."
    )
    got = _by_part(hw9, reply)
    assert got == Q1_Q2_RIGHT


def test_a_part_named_with_another_questions_number_is_not_this_questions_part(hw9: Suite) -> None:
    from evalkit.transcript.topics import named_parts

    text = "My partner says 1(c) should be s = d. And for 6(d), isn't S a D^2 x M matrix?"
    assert named_parts(text, hw9.get("q6")) == ["d"]
    assert named_parts(text, hw9.get("q1")) == ["c"]


def test_a_turn_that_corrects_the_current_question_and_asks_the_next_grades_both(hw9: Suite) -> None:
    from evalkit.transcript import grade_turns

    first = Q1_REPLY.replace("d\\mu^2", "d(\\mu^2 + \\sigma^2)")
    second = (
        "You're right, the expectation factors.\n\n### Part (a), corrected\n\n"
        "So $\\mathbb{E}[q^\\top k] = d\\mu^2$.\n\n"
        "### Question 2(a): the output\n\nArgmax picks $k_2$, so the output is $v_2 = [1, 4, 3]^\\top$.\n\n"
        "### Question 2(b): training\n\nArgmax has zero gradient almost everywhere, so no gradient reaches "
        "the queries or keys; softmax is a smooth, differentiable relaxation."
    )
    text = markdown_transcript(
        ("Question 1 please.", first), ("For (a): are q and k not independent? Also can you do Q2?", second)
    )
    results, _ = grade_turns(align(parse_transcript(text), hw9), hw9)
    got = {f"{r.problem}.{p.part}": [a.status for a in p.history] for r in results for p in r.parts}
    assert got["q1.a"] == ["incorrect", "correct"]
    assert got["q2.a"] == ["correct"] and got["q2.b"] == ["correct"]


def test_a_part_the_model_skipped_when_asked_keeps_its_unanswered_first_attempt(hw9: Suite) -> None:
    from evalkit.transcript import grade_turns

    two_parts = Q1_REPLY.split("### (c)")[0]  # (c) left out of the reply that was asked for it
    text = markdown_transcript(
        ("Question 1, all parts (a)-(c) please.", two_parts),
        ("You skipped (c).", "### (c)\n$$s = \\sqrt{d}$$"),
    )
    results, _ = grade_turns(align(parse_transcript(text), hw9), hw9)
    c = next(p for r in results for p in r.parts if p.part == "c")
    assert [a.status for a in c.history] == ["unscored", "correct"]
    assert c.first_attempt_status == "unscored" and c.status == "correct"  # no 'first try' for a skipped part


def test_a_part_first_asked_later_starts_when_it_is_asked(hw9: Suite) -> None:
    from evalkit.transcript import grade_turns

    text = markdown_transcript(
        ("Question 1 (a) please.", Q1_REPLY.split("### (b)")[0]),
        ("Now (c).", "### (c)\n$$s = \\sqrt{d}$$"),
    )
    results, _ = grade_turns(align(parse_transcript(text), hw9), hw9)
    c = next(p for r in results for p in r.parts if p.part == "c")
    assert [a.status for a in c.history] == ["correct"] and c.first_attempt_status == "correct"


def test_a_reply_in_latex_alone_fits_the_question_its_labels_name(hw9: Suite) -> None:
    """An align* derivation has no English words to fit a question by; '**Question 1(a)**' still names it."""
    reply = (
        "**Question 1(a)**\n\n\\begin{align*}\n\\mathbb{E}[q^\\top k] &= \\sum_i \\mathbb{E}[q_i]\\mathbb{E}[k_i]"
        " \\\\\n &= d\\mu^2\n\\end{align*}\n\n**Question 1(b)**\n\n\\begin{align*}\n\\operatorname{Var}(q^\\top k)"
        " &= d\n\\end{align*}\n"
    )
    aligned = align(
        parse_transcript(markdown_transcript(("Typeset HW9 Q1 (a) and (b) in LaTeX please.", reply))), hw9
    )
    assert list(aligned.problems) == ["q1"] and not aligned.skipped
