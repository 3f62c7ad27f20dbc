"""Questions and parts named the way Chinese, Japanese, Italian and Portuguese replies and students name them,
full-width punctuation, and a part's section that offers options (tests/extract_cases/styles.yaml grades
the same styles through the rubrics)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.extract import headed_questions, read_reply, split_questions
from evalkit.extract.layout import _picked_option
from evalkit.extract.words import canonical, halfwidth
from evalkit.spec.suite import Suite
from evalkit.transcript import align, parse_transcript
from tests.helpers import markdown_transcript

ROOT = Path(__file__).resolve().parent.parent
Q1 = "### (a)\n\n答案：$d\\mu^2$\n\n### (b)\n\n答案：$d$\n\n### (c)\n\n答案：$s = \\sqrt{d}$"
Q2 = "### (a)\n\n答案：$[1, 4, 3]^\\top$\n\n### (b)\n\n答案：argmax 的梯度几乎处处为零。"


@pytest.mark.parametrize(
    ("user", "problems"),
    [
        ("请帮我做第4题。", ["q4"]),
        ("请做 第 1 题 和 第 2 题", ["q1", "q2"]),
        ("第1、2题怎么做？", ["q1", "q2"]),
        ("问题1和问题2，谢谢", ["q1", "q2"]),
        ("HW9の問1と問2を解いてください。", ["q1", "q2"]),
        ("第１問と第２問をお願いします。", ["q1", "q2"]),  # full-width digits
        ("Mi servono le Domande 1 e 2.", ["q1", "q2"]),
        ("¿Me ayudas con las preguntas 1 y 2?", ["q1", "q2"]),
        ("Preciso das questões 1 e 2.", ["q1", "q2"]),
    ],
)
def test_a_user_turn_names_questions_in_other_languages(hw9: Suite, user: str, problems: list[str]) -> None:
    reply = (
        f"## 第1题\n\n{Q1}\n\n## 第2题\n\n{Q2}"
        if len(problems) == 2
        else "## 第4题\n\n### 第(a)问\n\n答案：`[h, d, q]`"
    )
    aligned = align(parse_transcript(markdown_transcript((user, reply))), hw9)
    assert list(aligned.problems) == problems


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("## 問1", "## 問2"),
        ("## 第1题", "## 第2题"),
        ("## 第 1 問", "## 第 2 問"),
        ("## 问题1", "## 问题2"),
        ("## 题目1", "## 题目2"),
        ("**質問1：**", "**質問2：**"),
        ("## Domanda 1", "## Domanda 2"),
        ("## Questão 1", "## Questão 2"),
    ],
)
def test_a_reply_is_split_by_question_headings_in_other_languages(first: str, second: str) -> None:
    reply = f"{first}\n\n{Q1}\n\n{second}\n\n{Q2}"
    parts = split_questions(reply, [1, 2])
    assert set(parts) == {1, 2}
    assert "s = \\sqrt{d}" in parts[1] and "[1, 4, 3]" not in parts[1]
    assert "[1, 4, 3]" in parts[2] and "\\sqrt{d}" not in parts[2]
    assert headed_questions(reply) == {1, 2}


def test_part_headings_qualified_by_their_question_split_a_reply() -> None:
    reply = (
        "Here are both.\n\n| Part | Answer |\n|---|---|\n| 1(c) | $s = \\sqrt{d}$ |\n| 4(f) | $O(bd^2 + bnd)$ |\n\n"
        "**1(c)**\n\nDivide by the standard deviation.\n\n**4A — shape of `W_q`**\n\n`[h, d, q]`\n\n"
        "**4(f) — compute**\n\n$O(bd^2 + bnd)$"
    )
    parts = split_questions(reply, [1, 4])
    assert "standard deviation" in parts[1] and "[h, d, q]" not in parts[1]
    assert "[h, d, q]" in parts[4] and "compute" in parts[4] and "standard deviation" not in parts[4]
    # the table before the first heading names parts of both questions: each gets it
    assert "| 1(c) |" in parts[1] and "| 1(c) |" in parts[4]


def test_bold_q_labels_of_two_questions_split_a_reply() -> None:
    reply = (
        "**Q1(c)** — yes: dividing by $s$ divides the variance by $s^2$.\n\n- ✅ $s = \\sqrt{d}$\n\n"
        "**Q6(c) space** — the $N \\times N$ weights are stored:\n\n- ✅ $O(N^2 + ND + NM)$\n"
    )
    assert headed_questions(reply) == {1, 6}
    parts = split_questions(reply, [1, 6])
    assert "s^2" in parts[1] and "N^2" not in parts[1]
    assert "N^2 + ND" in parts[6] and "s^2" not in parts[6]
    # '**Question 1(a)**' labels are question headings when they name two questions; one question's
    # alone may follow prose that answers others ('**Part II. Cost — and Question 3(a)**')
    two = "**Question 1(a)**\n\n$d\\mu^2$\n\n**Question 1(b)**\n\n$d$\n\n**Question 6(c)**\n\n$O(N^2 D)$"
    assert headed_questions(two) == {1, 6}
    assert "O(N^2 D)" not in split_questions(two, [1, 6])[1]
    assert (
        headed_questions("**Part II. Cost — and Question 3(a)**\n\n$O(nd)$\n\n**Question 3(b)**\n\n$2Lbnd$")
        == set()
    )


@pytest.mark.parametrize(
    "heading",
    ["### 第(b)问", "### (b)小问", "**小题(b)**", "### 設問(b)", "### 设问（b）", "**（b）**", "### 第4题(b)", "### 問4(b)",
     "### 第(b)问（修改）", "### Domanda 4, punto (b)", "### Quesito 4 — parte (b)", "**Questão 4, alínea (b)**"],
)  # fmt: skip
def test_part_headings_in_other_languages(heading: str) -> None:
    reply = f"### (a)\n\n答案：`[h, d, q]`\n\n{heading}\n\n答案：`[d, k]`\n\n### (f)\n\n答案：$O(bd^2 + bnd)$"
    layout = read_reply(reply, ["a", "b", "f"], question=4)
    assert layout.bodies["b"].endswith("答案：`[d, k]`")
    assert "[h, d, q]" not in layout.bodies["b"] and "bnd" not in layout.bodies["b"]


def test_halfwidth_keeps_offsets() -> None:
    text = "第（a）问：答案１，２、３　x"
    assert halfwidth(text) == "第(a)问:答案1,2,3 x"
    assert len(halfwidth(text)) == len(text)
    assert canonical("小题") == "part" and canonical("問題") == "question" and canonical("第") == "part"


OPTIONS = "- **Option A:** $s = d$, the variance\n- **Option B:** $s = \\sqrt{d}$, the standard deviation\n\n"


@pytest.mark.parametrize(
    ("after", "kept"),
    [
        ("**Go with B: $s = \\sqrt{d}$.**", "B"),
        ("Recommendation: A.", "A"),
        ("I'd pick option B.", "B"),
        ("My pick is option A, since it is simpler.", "A"),
        ("I wouldn't go with A. Option B is the right one.", "B"),
        ("Both show up in write-ups; I'd mention both.", None),
        ("Go with B for one convention, go with A for the other.", None),  # two different picks: neither
        ("Recommendation: C.", None),  # not an option offered
        ("Which one depends on the convention (A or B).", None),
    ],
)
def test_a_section_with_options_keeps_the_picked_one(after: str, kept: str | None) -> None:
    body = _picked_option(OPTIONS + after)
    assert ("s = d$, the variance" in body) == (kept == "A")
    assert ("the standard deviation" in body) == (kept == "B")
    assert "Option A:" not in body and "Option B:" not in body


def test_a_single_option_or_a_plain_list_is_left_alone() -> None:
    text = "- **Option A:** $s = d$\n\nGo with it."
    assert _picked_option(text) == text
    assert _picked_option("- $s = d$\n- $s = \\sqrt{d}$") == "- $s = d$\n- $s = \\sqrt{d}$"
