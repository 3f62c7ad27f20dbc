"""The complexity check: the table's big-O rows, the write-up's MQA and linear-attention bounds."""

from __future__ import annotations

import pytest

from evalkit.checks.quick import check_expression
from evalkit.errors import SpecError
from tests.latex.cases import assert_pair, pair_params, run_pair, run_writeup, writeup_params


@pytest.mark.parametrize("case", pair_params("complexity"))
def test_complexity_pairs(case):
    assert_pair(case, run_pair(case))


@pytest.mark.parametrize("entry", writeup_params("complexity"))
def test_writeup_bounds_graded_as_the_student_graded_them(entry):
    result = run_writeup(entry)
    assert result.status == entry["verdict"], result.explanation


def test_both_boxed_alternatives_are_graded():
    entry = {
        "reply": "q4_followup",
        "part": "g",
        "check": {"kind": "complexity", "expected": "O(d^2 + bd + \\frac{bnd}{h})"},
    }
    result = run_writeup(entry)
    assert result.status == "correct"
    assert result.explanation.startswith("both answers are correct")
    assert result.details["answer"] == "O(d^2 + bd + bnk) | O(d^2 + bd + bnv)"


def test_notation_options():
    assert check_expression("complexity", "N^2 D", "O(N^2 D)").status == "correct"
    strict = {"require_notation": True}
    assert check_expression("complexity", "N^2 D", "O(N^2 D)", options=strict).status == "incorrect"
    assert check_expression("complexity", "\\Theta(N^2 D)", "O(N^2 D)").status == "correct"
    result = check_expression("complexity", "\\Theta(N^2 D)", "O(N^2 D)", options={"strict_notation": True})
    assert result.status == "incorrect" and "tight bound" in result.explanation


def test_sums_and_multiples_of_bounds():
    assert check_expression("complexity", "O(N^2) + O(ND)", "O(N^2 + ND)").status == "correct"
    assert check_expression("complexity", "N \\cdot O(ND)", "O(N^2 D)").status == "correct"
    assert check_expression("complexity", "T(N) = O(N^2 D)", "O(N^2 D)").status == "correct"


def test_expected_that_is_not_a_bound_is_a_spec_error():
    with pytest.raises(SpecError, match="not a usable bound"):
        check_expression("complexity", "O(N)", "O(2^N)")


@pytest.mark.parametrize(
    "answer",
    [
        "O(b·d² + b·n·d)",
        "\\text{Total: } O(bd^2 + bnd)",
        "Total time: O(bd^2 + bnd)",
        "`O(b*d^2 + b*n*d)`",
        "\\mathcal{O}\\left(bnd + bd^{2}\\right)",
    ],
)
def test_bounds_as_models_write_them(answer):
    result = check_expression("complexity", answer, "O(bd^2 + bnd)")
    assert result.status == "correct", result.explanation
