"""Replies written the way many models write them, graded as a question's first reply (tests/extract_cases/styles.yaml).

Each case is one style of issue 11 (part headings, final-answer markers, math notations, hedges,
conflicting finals); the expected verdicts were derived by hand from the HW9 problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.conversation import NullRecorder, PartState, grade_reply
from evalkit.spec.suite import Suite, load_suite

ROOT = Path(__file__).resolve().parent.parent
CASES: list[dict[str, Any]] = yaml.safe_load((ROOT / "tests" / "extract_cases" / "styles.yaml").read_text())[
    "cases"
]


@pytest.fixture(scope="module")
def hw9() -> Suite:
    return load_suite(ROOT / "problems" / "hw9_*.yaml", ROOT / "rubrics")


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES])
def test_reply_style(case: dict[str, Any], hw9: Suite) -> None:
    lp = hw9.get(case["problem"])
    states = {p.id: PartState(p.id) for p in lp.problem.parts}
    grade_reply(lp, states, case["reply"], list(states), None, NullRecorder(), "test")
    got = {pid: states[pid].latest.status for pid in case["expect"]}
    explanations = {pid: states[pid].latest.explanation for pid in case["expect"]}
    assert got == case["expect"], explanations


def test_every_style_of_the_issue_has_a_case() -> None:
    ids = {c["id"] for c in CASES}
    named = {
        "part-paren-words", "bare-paren", "suffix-paren", "suffix-dot", "bold-paren", "markdown-heading-title",
        "question-qualified", "number-qualified", "numbered-parts", "bold-numbered-parts", "part-capital-letter",
        "sub-parts-paren-paren", "sub-parts-dotted", "roman-under-letter", "out-of-order",
        "answered-inside-another-section", "summary-list-restates", "final-answers-table-only", "blanks-as-lines",
        "blanks-inline-list", "blanks-table", "blanks-filled-class", "boxed-after-derivation", "gemini-answer-line",
        "final-answer-marker", "therefore-after-display", "named-quantity-over-later-math",
        "remark-is-not-the-answer", "identifier-in-code-span-is-not-a-formula", "paren-bracket-delimiters",
        "unicode-math", "unicode-shapes", "plain-text-math", "plain-text-big-o", "math-in-code-spans",
        "text-label-inside-display", "shapes-in-prose", "hedge", "hedge-after-box", "equivalent-forms-are-no-hedge",
        "conflicting-finals", "restated-same-answer", "unreadable-restatement-changes-nothing",
        "rubric-phrases-denied",
    }  # fmt: skip
    assert named <= ids
