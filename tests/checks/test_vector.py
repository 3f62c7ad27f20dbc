"""The vector check: the table's vector rows and the write-up's argmax-attention output."""

from __future__ import annotations

import pytest

from evalkit.checks.quick import check_expression
from evalkit.errors import SpecError
from tests.latex.cases import assert_pair, pair_params, run_pair, run_writeup, writeup_params


@pytest.mark.parametrize("case", pair_params("vector"))
def test_vector_pairs(case):
    assert_pair(case, run_pair(case))


@pytest.mark.parametrize("entry", writeup_params("vector"))
def test_writeup_vectors_graded_as_the_student_graded_them(entry):
    result = run_writeup(entry)
    assert result.status == entry["verdict"], result.explanation
    assert result.details["found_in"] == "boxed"


def test_tolerance_is_relative_for_large_entries():
    assert (
        check_expression("vector", "[1000.001, 0]", "[1000, 0]", options={"tolerance": 1e-5}).status
        == "correct"
    )
    assert (
        check_expression("vector", "[1000.1, 0]", "[1000, 0]", options={"tolerance": 1e-5}).status
        == "incorrect"
    )


def test_expected_must_be_a_vector():
    with pytest.raises(SpecError, match="not a vector"):
        check_expression("vector", "[1, 2]", "12")


@pytest.mark.parametrize(
    "answer", ["[1, 4, 3]ᵀ", "⟨1, 4, 3⟩", "\\text{output} = (1,4,3)^\\top", "`[1, 4, 3]`"]
)
def test_vectors_as_models_write_them(answer):
    result = check_expression("vector", answer, "[1, 4, 3]")
    assert result.status == "correct", result.explanation
