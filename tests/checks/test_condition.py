"""The condition check: the table's condition rows and the write-up's Q6(a)."""

from __future__ import annotations

import pytest

from evalkit.checks.quick import check_expression
from evalkit.errors import SpecError
from tests.latex.cases import assert_pair, pair_params, run_pair, run_writeup, writeup_params


@pytest.mark.parametrize("case", pair_params("condition"))
def test_condition_pairs(case):
    assert_pair(case, run_pair(case))


@pytest.mark.parametrize("entry", writeup_params("condition"))
def test_writeup_conditions_graded_as_the_student_graded_them(entry):
    result = run_writeup(entry)
    assert result.status == entry["verdict"], result.explanation
    assert result.details["answer"].startswith("\\text{sim}(q, k) > 0")


def test_scaled_condition_is_the_same_condition():
    assert (
        check_expression("condition", "2\\,\\text{sim}(q,k) > 0", "\\text{sim}(q,k) > 0").status == "correct"
    )
    assert check_expression("condition", "-\\text{sim}(q,k) < 0", "\\text{sim}(q,k) > 0").status == "correct"


def test_expected_needs_a_relation():
    with pytest.raises(SpecError, match="no relation"):
        check_expression("condition", "x > 0", "x")


def test_conditions_as_models_write_them():
    assert check_expression("condition", "sim(q, k) > 0", "\\text{sim}(q, k) > 0").status == "correct"
    assert (
        check_expression("condition", "\\text{sim}(q,k) ≠ 0", "\\text{sim}(q, k) \\neq 0").status == "correct"
    )
    result = check_expression("condition", "sim(q,k) ≥ 0", "\\text{sim}(q, k) > 0")
    assert result.status == "incorrect" and "allows zero" in result.explanation


@pytest.mark.parametrize(
    "reply, status",
    [
        (
            "Gradient descent converges when $\\eta < 2/L$. Note that $L > 0$ because $f$ is smooth.",
            "correct",
        ),
        ("It converges when $\\eta < 1/L$. Note that $L > 0$ because $f$ is smooth.", "incorrect"),
    ],
)
def test_the_condition_about_the_expected_quantity_is_graded_not_a_later_aside(reply, status):
    # the prompt names no quantity; the expected answer's left side (eta) says which relation answers
    result = check_expression("condition", reply, "\\eta < 2/L", symbols="eta:scalar L:positive")
    assert result.status == status, result.explanation
